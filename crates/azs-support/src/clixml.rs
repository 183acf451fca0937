//! PowerShell's CliXml serialization (what `Export-Clixml` writes), for
//! `Save-AzsSupportObjectToFile -FileFormat xml`: a file `Import-Clixml` reads back.
//!
//! `<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">` holds one
//! element per value: `<S>` text, `<I64>` whole numbers, `<Db>` fractions, `<B>` booleans,
//! `<DT>` instants (ISO 8601, UTC), `<Nil />` nothing, and `<Obj RefId="n">` for records (their
//! type name in `<TN RefId="n"><T>...</T><T>System.Management.Automation.PSCustomObject</T>
//! <T>System.Object</T></TN>`, a type seen before as `<TNRef RefId="n" />`, their properties in
//! `<MS>`, each element named by its property in `N="..."`) and for arrays (`<LST>` inside an
//! `<Obj>` typed `System.Object[]`). Text is escaped as XML requires, and characters XML 1.0 cannot
//! hold (controls other than tab, line feed and carriage return) are written as PowerShell writes
//! them, `_xHHHH_`.

use crate::value::{Record, Value};
use chrono::SecondsFormat;

/// The CliXml namespace.
const NAMESPACE: &str = "http://schemas.microsoft.com/powershell/2004/04";

/// Text escaped for an XML element or a double-quoted attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push_str(&format!("_x{:04X}_", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// The writer: the type names already written (their RefIds) and the next object's RefId.
struct Writer {
    out: String,
    types: Vec<String>,
    next_ref: usize,
}

impl Writer {
    fn name_attr(name: Option<&str>) -> String {
        name.map(|n| format!(" N=\"{}\"", escape(n)))
            .unwrap_or_default()
    }

    fn type_names(&mut self, names: &[&str]) {
        let key = names.join("\n");
        match self.types.iter().position(|t| *t == key) {
            Some(i) => self.out.push_str(&format!("<TNRef RefId=\"{i}\" />")),
            None => {
                self.out
                    .push_str(&format!("<TN RefId=\"{}\">", self.types.len()));
                for n in names {
                    self.out.push_str(&format!("<T>{}</T>", escape(n)));
                }
                self.out.push_str("</TN>");
                self.types.push(key);
            }
        }
    }

    fn value(&mut self, v: &Value, name: Option<&str>) {
        let n = Self::name_attr(name);
        match v {
            Value::Null => self.out.push_str(&format!("<Nil{n} />")),
            Value::Bool(b) => self.out.push_str(&format!("<B{n}>{b}</B>")),
            Value::Int(i) => self.out.push_str(&format!("<I64{n}>{i}</I64>")),
            Value::Float(f) => self.out.push_str(&format!("<Db{n}>{f}</Db>")),
            Value::String(s) => self.out.push_str(&format!("<S{n}>{}</S>", escape(s))),
            Value::DateTime(t) => self.out.push_str(&format!(
                "<DT{n}>{}</DT>",
                t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            )),
            Value::Array(items) => {
                self.out
                    .push_str(&format!("<Obj{n} RefId=\"{}\">", self.next_ref));
                self.next_ref += 1;
                self.type_names(&["System.Object[]", "System.Array", "System.Object"]);
                self.out.push_str("<LST>");
                for item in items {
                    self.value(item, None);
                }
                self.out.push_str("</LST></Obj>");
            }
            Value::Record(r) => self.record(r, &n),
        }
    }

    fn record(&mut self, r: &Record, n: &str) {
        self.out
            .push_str(&format!("<Obj{n} RefId=\"{}\">", self.next_ref));
        self.next_ref += 1;
        let custom = "System.Management.Automation.PSCustomObject";
        if r.type_name.is_empty() || r.type_name == custom {
            self.type_names(&[custom, "System.Object"]);
        } else {
            self.type_names(&[&r.type_name, custom, "System.Object"]);
        }
        self.out.push_str("<MS>");
        for (k, v) in &r.props {
            self.value(v, Some(k));
        }
        self.out.push_str("</MS></Obj>");
    }
}

/// `values` as a CliXml document, declared UTF-8.
pub fn to_clixml(values: &[Value]) -> String {
    let mut w = Writer {
        out: format!("<Objs Version=\"1.1.0.1\" xmlns=\"{NAMESPACE}\">\n"),
        types: Vec::new(),
        next_ref: 0,
    };
    for v in values {
        w.out.push_str("  ");
        w.value(v, None);
        w.out.push('\n');
    }
    w.out.push_str("</Objs>\n");
    format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{}", w.out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn records_scalars_and_arrays_as_export_clixml_writes_them() {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
            .single()
            .expect("date");
        let r = Record::new("Azs.Support.ClusterResource")
            .with("Name", "Cluster <IP> & \"name\"")
            .with("Count", 3i64)
            .with("Online", true)
            .with("Since", at)
            .with("Owner", Value::Null)
            .with("Tags", vec!["a", "b"]);
        let doc = to_clixml(&[Value::Record(r.clone()), Value::Record(r), Value::from("x")]);
        assert!(doc.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">\n"), "{doc}");
        for part in [
            "<Obj RefId=\"0\"><TN RefId=\"0\"><T>Azs.Support.ClusterResource</T><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN><MS>",
            "<S N=\"Name\">Cluster &lt;IP&gt; &amp; &quot;name&quot;</S>",
            "<I64 N=\"Count\">3</I64>",
            "<B N=\"Online\">true</B>",
            "<DT N=\"Since\">2026-11-21T10:00:00Z</DT>",
            "<Nil N=\"Owner\" />",
            "<Obj N=\"Tags\" RefId=\"1\"><TN RefId=\"1\"><T>System.Object[]</T>",
            "<LST><S>a</S><S>b</S></LST></Obj>",
            // The second record refers to its type written once.
            "<Obj RefId=\"2\"><TNRef RefId=\"0\" /><MS>",
            "\n  <S>x</S>\n</Objs>\n",
        ] {
            assert!(doc.contains(part), "{part} missing in {doc}");
        }
    }

    #[test]
    fn characters_xml_cannot_hold_are_escaped() {
        let doc = to_clixml(&[Value::from("a\u{1b}[2J\u{0}b\tc")]);
        assert!(doc.contains("<S>a_x001B_[2J_x0000_b\tc</S>"), "{doc}");
        let names = to_clixml(&[Value::Record(Record::new("T").with("a\"<b", 1i64))]);
        assert!(names.contains("<I64 N=\"a&quot;&lt;b\">1</I64>"), "{names}");
    }
}
