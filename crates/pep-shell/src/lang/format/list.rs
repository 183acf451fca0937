//! List rendering (Format-List and list default views): `Name : Value` per property, names padded
//! to the longest, a blank line before, between and after records.

use super::{cell, escape_text};
use azs_support::{Record, Value};

/// Renders `records` as `Name : Value` blocks of `cols`.
pub fn render(records: &[&Record], cols: &[String]) -> String {
    if cols.is_empty() || records.is_empty() {
        return String::new();
    }
    let names: Vec<String> = cols.iter().map(|c| escape_text(c)).collect();
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let mut out = String::from("\n");
    for r in records {
        for (name, col) in names.iter().zip(cols) {
            let value = cell(r.get(col).unwrap_or(&Value::Null));
            let fill = " ".repeat(longest - name.chars().count());
            let line = format!("{name}{fill} : {value}");
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_names_and_separates_records() {
        let a = Record::new("T").with("Name", "a").with("LongerName", 1i64);
        let b = Record::new("T")
            .with("Name", "b\u{7}")
            .with("LongerName", Value::Null);
        let out = render(&[&a, &b], &["Name".into(), "LongerName".into()]);
        assert_eq!(
            out,
            "\nName       : a\nLongerName : 1\n\nName       : b\\x07\nLongerName :\n\n"
        );
    }

    #[test]
    fn arrays_show_as_display_text() {
        let a = Record::new("T").with("Nodes", vec!["n1", "n2"]);
        assert_eq!(render(&[&a], &["Nodes".into()]), "\nNodes : {n1, n2}\n\n");
    }
}
