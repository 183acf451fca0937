//! The formatting commands: what may stand after a `|`.
//!
//! [`Formatter`] is each formatting command (the catalog entries with `handler = "formatter"`,
//! bound to [`FORMATTERS`] when the server starts): `apply_within` runs the object-to-object ones
//! (Select-Object, Where-Object, Sort-Object, Measure-Object, ConvertTo-Json, ConvertTo-Csv,
//! Get-Member) on a
//! command's output and `render` is the view Format-Table and Format-List choose; `render_within`
//! turns values into the text a terminal shows (those views, and the default view Out-Default
//! uses).
//! Rendered text never carries raw control characters from the data.

mod csv;
mod json;
mod list;
mod measure;
pub mod member;
mod select;
mod sort;
mod table;
mod where_;

use super::error::{ErrorId, LangError};
use super::escape::escape_text;
use azs_support::catalog::{OutputSpec, SortKey, View};
use azs_support::{BoundArgs, Record, Value};

pub use azs_support::wildcard::wildcard_match;

/// The formatting commands: the catalog entries with `handler = "formatter"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formatter {
    /// Select-Object.
    SelectObject,
    /// Where-Object.
    WhereObject,
    /// Sort-Object.
    SortObject,
    /// Measure-Object.
    MeasureObject,
    /// Format-Table.
    FormatTable,
    /// Format-List.
    FormatList,
    /// ConvertTo-Json.
    ConvertToJson,
    /// ConvertTo-Csv.
    ConvertToCsv,
    /// Out-Default.
    OutDefault,
    /// Get-Member.
    GetMember,
}

/// Every formatting command under its catalog name.
pub const FORMATTERS: &[(&str, Formatter)] = &[
    ("Select-Object", Formatter::SelectObject),
    ("Where-Object", Formatter::WhereObject),
    ("Sort-Object", Formatter::SortObject),
    ("Measure-Object", Formatter::MeasureObject),
    ("Format-Table", Formatter::FormatTable),
    ("Format-List", Formatter::FormatList),
    ("ConvertTo-Json", Formatter::ConvertToJson),
    ("ConvertTo-Csv", Formatter::ConvertToCsv),
    ("Out-Default", Formatter::OutDefault),
    ("Get-Member", Formatter::GetMember),
];

impl Formatter {
    /// Runs the command on `input`; a stage that builds text (ConvertTo-Json, ConvertTo-Csv)
    /// stops at `max` bytes. Format-Table, Format-List and Out-Default pass the values on: they
    /// choose how the line's values are shown ([`Formatter::render`]).
    pub fn apply_within(
        self,
        args: &BoundArgs,
        input: Vec<Value>,
        max: usize,
    ) -> Result<Vec<Value>, LangError> {
        match self {
            Formatter::SelectObject => select::apply(args, input),
            Formatter::WhereObject => where_::apply(args, input),
            Formatter::SortObject => sort::apply(args, input),
            Formatter::MeasureObject => measure::apply(args, input),
            Formatter::ConvertToJson => json::apply(args, input, max),
            Formatter::ConvertToCsv => csv::apply(args, input, max),
            Formatter::GetMember => Ok(member::apply(args, input)),
            Formatter::FormatTable | Formatter::FormatList | Formatter::OutDefault => Ok(input),
        }
    }

    /// The view it chooses for the line's values (Format-Table, Format-List), if any.
    pub fn render(self, args: &BoundArgs) -> Option<Render<'static>> {
        match self {
            Formatter::FormatTable => Some(Render::Table(args.strings("Property"))),
            Formatter::FormatList => Some(Render::List(args.strings("Property"))),
            _ => None,
        }
    }

    /// Whether the records keep the shape their command gave them, and so its default view
    /// (filtering, sorting, choosing a view, and Select-Object taking the first, last or unique
    /// records without choosing properties); the others reshape them.
    pub fn keeps_shape(self, args: &BoundArgs) -> bool {
        match self {
            Formatter::WhereObject
            | Formatter::SortObject
            | Formatter::FormatTable
            | Formatter::FormatList
            | Formatter::OutDefault => true,
            Formatter::SelectObject => {
                args.strings("Property").is_empty() && args.str("ExpandProperty").is_none()
            }
            Formatter::MeasureObject
            | Formatter::ConvertToJson
            | Formatter::ConvertToCsv
            | Formatter::GetMember => false,
        }
    }

    /// Whether it sorts: a line that sorts its records itself gets no default sort.
    pub fn sorts(self) -> bool {
        self == Formatter::SortObject
    }
}

/// `values` sorted (stable) by a command's default sort: its properties in priority order, each
/// ascending or descending, compared as Sort-Object compares them unless the catalog declares
/// the order of their values.
pub fn sort_by(values: Vec<Value>, keys: &[SortKey]) -> Vec<Value> {
    sort::by_keys(values, keys)
}

/// How to render values.
#[derive(Debug, Clone)]
pub enum Render<'a> {
    /// The default view: the producing command's output spec when the records are of its type,
    /// else PowerShell's rule (up to 4 properties: table, more: list).
    Default(Option<&'a OutputSpec>),
    /// Format-Table with these properties (empty: all of the first record's).
    Table(Vec<String>),
    /// Format-List with these properties (empty: all).
    List(Vec<String>),
}

/// A value's display text for a cell or line, control characters escaped.
pub(crate) fn cell(v: &Value) -> String {
    escape_text(&v.to_display())
}

/// The property names to show for `records`: `wanted` (wildcards allowed) or all of the first's.
pub(crate) fn columns(records: &[&Record], wanted: &[String]) -> Vec<String> {
    let Some(first) = records.first() else {
        return Vec::new();
    };
    if wanted.is_empty() {
        return first.props.iter().map(|(k, _)| k.clone()).collect();
    }
    let mut out: Vec<String> = Vec::new();
    for w in wanted {
        if azs_support::wildcard::is_wildcard(w) {
            for (k, _) in &first.props {
                if wildcard_match(w, k) && !out.iter().any(|o| o.eq_ignore_ascii_case(k)) {
                    out.push(k.clone());
                }
            }
        } else if !out.iter().any(|o| o.eq_ignore_ascii_case(w)) {
            out.push(first.property_name(w).unwrap_or(w).to_string());
        }
    }
    out
}

enum Chunk<'v> {
    Scalar(&'v Value),
    Records(Vec<&'v Record>),
}

/// Top-level arrays are enumerated; consecutive records of one type form one chunk.
fn chunks(values: &[Value]) -> Vec<Chunk<'_>> {
    fn push<'v>(out: &mut Vec<Chunk<'v>>, v: &'v Value) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| push(out, i)),
            Value::Record(r) => match out.last_mut() {
                Some(Chunk::Records(rs)) if rs[0].type_name == r.type_name => rs.push(r),
                _ => out.push(Chunk::Records(vec![r])),
            },
            other => out.push(Chunk::Scalar(other)),
        }
    }
    let mut out = Vec::new();
    values.iter().for_each(|v| push(&mut out, v));
    out
}

/// A scalar as output lines: text keeps its own line breaks (JSON, CSV), nothing else raw.
fn scalar_lines(v: &Value, out: &mut String) {
    if matches!(v, Value::Null) {
        return;
    }
    for line in v.to_display().split('\n') {
        out.push_str(&escape_text(line.strip_suffix('\r').unwrap_or(line)));
        out.push('\n');
    }
}

/// Unbounded [`render_within`] (tests).
#[cfg(test)]
fn render(values: &[Value], how: Render, width: Option<usize>) -> String {
    render_within(values, how, width, usize::MAX).unwrap_or_default()
}

/// Renders values as terminal text (`\n` line ends; ends with a newline when non-empty), or an
/// error when the text would pass `max` bytes (a table is measured before it
/// is built: padding can make it far larger than its values).
pub fn render_within(
    values: &[Value],
    how: Render,
    width: Option<usize>,
    max: usize,
) -> Result<String, LangError> {
    let too_big = || {
        LangError::new(
            ErrorId::InvalidInput,
            crate::bounds::LineLimits::size_error("the output", max),
        )
    };
    let mut out = String::new();
    for chunk in chunks(values) {
        if out.len() > max {
            return Err(too_big());
        }
        let room = max.saturating_sub(out.len());
        match chunk {
            Chunk::Scalar(v) => scalar_lines(v, &mut out),
            Chunk::Records(rs) => match &how {
                Render::Table(props) => out.push_str(
                    &table::render_within(&rs, &columns(&rs, props), width, room)
                        .ok_or_else(too_big)?,
                ),
                Render::List(props) => out.push_str(&list::render(&rs, &columns(&rs, props))),
                Render::Default(spec) => {
                    let own =
                        spec.filter(|s| !s.type_name.is_empty() && s.type_name == rs[0].type_name);
                    match own {
                        Some(s) => {
                            let cols = columns(&rs, &s.properties);
                            match s.view {
                                View::Table => out.push_str(
                                    &table::render_within(&rs, &cols, width, room)
                                        .ok_or_else(too_big)?,
                                ),
                                View::List => out.push_str(&list::render(&rs, &cols)),
                                View::Text => rs.iter().for_each(|r| {
                                    scalar_lines(&Value::Record((*r).clone()), &mut out)
                                }),
                            }
                        }
                        None => {
                            let cols = columns(&rs, &[]);
                            if cols.len() <= 4 {
                                out.push_str(
                                    &table::render_within(&rs, &cols, width, room)
                                        .ok_or_else(too_big)?,
                                );
                            } else {
                                out.push_str(&list::render(&rs, &cols));
                            }
                        }
                    }
                }
            },
        }
    }
    if out.len() > max {
        return Err(too_big());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use azs_support::catalog::View;

    fn rec(t: &str, n: usize) -> Value {
        let mut r = Record::new(t);
        for i in 0..n {
            r.set(&format!("P{i}"), i as i64);
        }
        Value::Record(r)
    }

    #[test]
    fn scalars_one_per_line() {
        let v = vec![
            Value::from("a"),
            Value::Int(3),
            Value::Bool(true),
            Value::Null,
        ];
        assert_eq!(render(&v, Render::Default(None), None), "a\n3\nTrue\n");
        assert_eq!(render(&[], Render::Default(None), None), "");
    }

    #[test]
    fn scalars_keep_line_breaks_but_escape_controls() {
        let v = vec![Value::from("{\r\n  \"a\": \"\u{1b}[2J\"\n}")];
        assert_eq!(
            render(&v, Render::Default(None), None),
            "{\n  \"a\": \"\\x1b[2J\"\n}\n"
        );
    }

    #[test]
    fn default_rule_four_is_table_five_is_list() {
        let t = render(&[rec("T", 4)], Render::Default(None), None);
        assert!(t.contains("P0 P1 P2 P3"), "{t}");
        let l = render(&[rec("T", 5)], Render::Default(None), None);
        assert!(l.contains("P4 : 4"), "{l}");
    }

    #[test]
    fn default_uses_spec_view_for_its_type() {
        let spec = OutputSpec {
            type_name: "T".into(),
            properties: vec!["P1".into()],
            default_sort: vec![],
            default_sort_descending: vec![],
            sort_order: vec![],
            view: View::List,
        };
        let out = render(&[rec("T", 2)], Render::Default(Some(&spec)), None);
        assert_eq!(out, "\nP1 : 1\n\n");
        let other = render(&[rec("U", 2)], Render::Default(Some(&spec)), None);
        assert!(other.contains("P0 P1"), "{other}");
    }

    #[test]
    fn explicit_views() {
        let v = vec![rec("T", 2), rec("T", 2)];
        let t = render(&v, Render::Table(vec!["P1".into()]), None);
        assert_eq!(t, "\nP1\n--\n 1\n 1\n\n");
        let l = render(&v, Render::List(vec!["p*".into()]), None);
        assert_eq!(l, "\nP0 : 0\nP1 : 1\n\nP0 : 0\nP1 : 1\n\n");
    }

    #[test]
    fn out_default_passes_values_on_and_only_format_commands_choose_a_view() {
        assert_eq!(
            Formatter::OutDefault.apply_within(&BoundArgs::new(), vec![Value::Int(1)], usize::MAX),
            Ok(vec![Value::Int(1)])
        );
        let args = BoundArgs::new();
        assert!(matches!(
            Formatter::FormatList.render(&args),
            Some(Render::List(_))
        ));
        assert!(Formatter::SelectObject.render(&args).is_none());
        assert!(
            Formatter::SelectObject.keeps_shape(&args) && Formatter::SortObject.keeps_shape(&args)
        );
        let mut picked = BoundArgs::new();
        picked.insert("Property", vec!["P0"].into());
        assert!(!Formatter::SelectObject.keeps_shape(&picked));
        let mut expanded = BoundArgs::new();
        expanded.insert("ExpandProperty", "P0".into());
        assert!(!Formatter::SelectObject.keeps_shape(&expanded));
        let mut first = BoundArgs::new();
        first.insert("First", 2i64.into());
        assert!(Formatter::SelectObject.keeps_shape(&first));
        assert!(!Formatter::GetMember.keeps_shape(&args));
    }

    /// Each formatting command, bound as its catalog entry declares it (one switch at a time where
    /// it has them), reads only those parameters: an undeclared read panics in debug builds.
    #[test]
    fn formatters_read_only_the_parameters_their_entries_declare() {
        let all = azs_support::catalog::all_embedded_commands().expect("catalog");
        for (name, formatter) in FORMATTERS {
            let spec = all
                .iter()
                .find(|c| c.name == *name)
                .unwrap_or_else(|| panic!("{name} has no entry"));
            let declared = || BoundArgs::declaring(spec.parameters.iter().map(|p| p.name.as_str()));
            let mut runs = vec![declared()];
            for p in &spec.parameters {
                let mut args = declared();
                args.insert(&p.name, Value::Bool(true));
                if p.name != "Property" {
                    args.insert("Property", vec!["P0"].into());
                }
                runs.push(args);
            }
            for args in runs {
                let _ = formatter.apply_within(&args, vec![rec("T", 2), rec("T", 2)], usize::MAX);
                let _ = formatter.render(&args);
            }
        }
    }

    #[test]
    fn sort_by_orders_records_stably_by_their_properties() {
        let r = |state: &str, name: &str| {
            Value::Record(Record::new("S").with("State", state).with("Name", name))
        };
        let input = vec![r("Stopped", "a"), r("Running", "b"), r("Running", "a")];
        let names = |out: Vec<Value>| -> Vec<String> {
            out.iter()
                .filter_map(|v| {
                    v.as_record()
                        .and_then(|r| r.get("Name"))
                        .map(Value::to_display)
                })
                .collect()
        };
        let key = |property: &str, descending: bool, order: &[&str]| SortKey {
            property: property.into(),
            descending,
            order: order.iter().map(|o| o.to_string()).collect(),
        };
        let out = sort_by(input.clone(), &[key("State", false, &[])]);
        assert_eq!(names(out), ["b", "a", "a"]);
        let out = sort_by(
            input.clone(),
            &[key("State", true, &[]), key("Name", false, &[])],
        );
        assert_eq!(names(out), ["a", "a", "b"]);
        // A declared order of values: Stopped first, then the rest.
        let out = sort_by(
            input,
            &[key("State", false, &["stopped"]), key("Name", false, &[])],
        );
        assert_eq!(names(out), ["a", "a", "b"]);
    }
}
