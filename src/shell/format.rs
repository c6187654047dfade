//! Output formats: a [`ResultSet`] rendered as an aligned table, CSV or JSON.
//!
//! These renderings are golden-tested and also what `tally run --format`
//! prints, so they are exact and stable: no terminal-width detection, no
//! colour, the same bytes in a pipe and on a TTY. Every rendering is a
//! sequence of complete lines, each ending in `\n`, so the output of several
//! statements can simply be concatenated.
//!
//! This module knows nothing of where the text goes (stdout, a file); the
//! REPL decides that.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use comfy_table::{CellAlignment, ContentArrangement, Table};

use crate::error::Error;
use crate::value::{ResultSet, Value};

/// How results are printed: `.mode` in the shell, `--format` on the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A boxed, aligned table for people, followed by a `(n rows)` line.
    #[default]
    Table,
    /// One line per statement: a JSON array of row objects.
    Json,
    /// A header line, then one line per row, RFC 4180 quoting.
    Csv,
}

impl Format {
    /// Every format, in the order they are listed to users.
    pub const ALL: [Format; 3] = [Format::Table, Format::Json, Format::Csv];
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Csv => "csv",
        })
    }
}

impl FromStr for Format {
    type Err = Error;

    /// Parses `table`, `json` or `csv`, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Format, Error> {
        Format::ALL
            .into_iter()
            .find(|f| f.to_string().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "unknown format '{s}': expected one of table, json, csv"
                ))
            })
    }
}

/// Renders one statement's result in `format`, as complete `\n`-terminated
/// lines.
pub fn render(rs: &ResultSet, format: Format) -> String {
    match format {
        Format::Table => render_table(rs),
        Format::Json => render_json(rs),
        Format::Csv => render_csv(rs),
    }
}

/// The box characters of the table, in comfy-table's preset order: solid
/// lines everywhere, a rule under the header, none between rows (the look of
/// DuckDB's shell).
const TABLE_STYLE: &str = "││──├─┼┤│    ┬┴┌┐└┘";

fn render_table(rs: &ResultSet) -> String {
    let footer = match rs.rows.len() {
        1 => "(1 row)\n".to_string(),
        n => format!("({n} rows)\n"),
    };
    // A result without columns has nothing to draw; comfy-table would print
    // an empty box.
    if rs.columns.is_empty() {
        return footer;
    }
    let mut table = Table::new();
    table
        .load_preset(TABLE_STYLE)
        // Never wrap or shrink to the terminal: the same bytes everywhere.
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty()
        .set_header(rs.columns.iter().map(String::as_str));
    for row in &rs.rows {
        table.add_row(row.iter().map(|v| escape_controls(&v.to_string())));
    }
    for (i, column) in table.column_iter_mut().enumerate() {
        if is_numeric_column(rs, i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = String::new();
    for line in table.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&footer);
    out
}

/// A table cell as text with its control characters escaped (`\t`, `\n`,
/// `\u{1b}`): a value from the data must not move the cursor, clear the
/// screen or recolour the terminal it is printed on.
fn escape_controls(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A column is right-aligned when it holds at least one number and nothing
/// but numbers and NULLs.
fn is_numeric_column(rs: &ResultSet, i: usize) -> bool {
    let mut cells = rs.rows.iter().filter_map(|r| r.get(i)).peekable();
    cells.peek().is_some()
        && cells
            .clone()
            .all(|v| matches!(v, Value::Int(_) | Value::Float(_) | Value::Null))
        && cells.any(|v| !v.is_null())
}

/// CSV with `\n` line ends. NULL is an empty field and an empty string is
/// `""`, so the two stay distinguishable (as in PostgreSQL's `COPY ... CSV`).
fn render_csv(rs: &ResultSet) -> String {
    let mut out = String::new();
    push_csv_line(&mut out, rs.columns.iter().map(|c| Some(c.as_str())));
    for row in &rs.rows {
        let cells: Vec<Option<String>> = row
            .iter()
            .map(|v| finite(v).then(|| v.to_string()))
            .collect();
        push_csv_line(&mut out, cells.iter().map(Option::as_deref));
    }
    out
}

/// Whether a value has a CSV field: NULL is empty, and so are NaN and the
/// infinities, which no CSV reader takes for numbers.
fn finite(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Float(x) => x.is_finite(),
        _ => true,
    }
}

fn push_csv_line<'a>(out: &mut String, fields: impl Iterator<Item = Option<&'a str>>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        match field {
            None => {}
            Some(s) if s.is_empty() || s.contains([',', '"', '\r', '\n']) => {
                out.push('"');
                out.push_str(&s.replace('"', "\"\""));
                out.push('"');
            }
            Some(s) => out.push_str(s),
        }
    }
    out.push('\n');
}

/// One line: `[{"col":value,...},...]`, keys in column order.
fn render_json(rs: &ResultSet) -> String {
    let keys = unique_keys(&rs.columns);
    let rows: Vec<serde_json::Value> = rs
        .rows
        .iter()
        .map(|row| {
            let object = keys
                .iter()
                .zip(row)
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v)))
                .collect::<serde_json::Map<_, _>>();
            serde_json::Value::Object(object)
        })
        .collect();
    let mut out = serde_json::Value::Array(rows).to_string();
    out.push('\n');
    out
}

/// JSON object keys for the columns. A repeated column name would silently
/// overwrite the earlier value, so the second occurrence becomes `name_2`,
/// the third `name_3`, skipping any suffix that is itself a column name.
pub(super) fn unique_keys(columns: &[String]) -> Vec<String> {
    let names: HashSet<&str> = columns.iter().map(String::as_str).collect();
    let mut used: HashSet<String> = HashSet::new();
    let mut keys = Vec::with_capacity(columns.len());
    for column in columns {
        let mut key = column.clone();
        let mut n = 2;
        while used.contains(&key) {
            key = format!("{column}_{n}");
            if names.contains(key.as_str()) {
                key = column.clone();
            }
            n += 1;
        }
        used.insert(key.clone());
        keys.push(key);
    }
    keys
}

/// The `.timer` line for one statement, at microsecond precision:
/// `Time: 41 µs`, `Time: 12.345 ms`, `Time: 2.000001 s`.
pub(super) fn format_elapsed(elapsed: Duration) -> String {
    let micros = elapsed.as_micros();
    if micros < 1_000 {
        format!("Time: {micros} µs")
    } else if micros < 1_000_000 {
        format!("Time: {}.{:03} ms", micros / 1_000, micros % 1_000)
    } else {
        format!("Time: {}.{:06} s", micros / 1_000_000, micros % 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(columns: &[&str], rows: Vec<Vec<Value>>) -> ResultSet {
        ResultSet {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
        }
    }

    fn sample() -> ResultSet {
        rs(
            &["event_type", "count", "avg"],
            vec![
                vec![Value::str("video_view"), Value::Int(123), Value::Float(0.5)],
                vec![Value::str("like"), Value::Int(7), Value::Null],
                vec![
                    Value::str("a, \"quoted\" one"),
                    Value::Int(-1),
                    Value::Float(2.0),
                ],
            ],
        )
    }

    #[test]
    fn format_parses_and_displays() {
        for f in Format::ALL {
            assert_eq!(f.to_string().parse::<Format>().ok(), Some(f));
        }
        assert_eq!("JSON".parse::<Format>().ok(), Some(Format::Json));
        let err = "xml".parse::<Format>().map(|_| ()).unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown format 'xml': expected one of table, json, csv"
        );
    }

    #[test]
    fn table_aligns_numbers_right_and_shows_null() {
        let expected = "\
┌─────────────────┬───────┬──────┐
│ event_type      │ count │  avg │
├─────────────────┼───────┼──────┤
│ video_view      │   123 │  0.5 │
│ like            │     7 │ NULL │
│ a, \"quoted\" one │    -1 │  2.0 │
└─────────────────┴───────┴──────┘
(3 rows)
";
        assert_eq!(render(&sample(), Format::Table), expected);
    }

    #[test]
    fn control_characters_from_the_data_are_escaped_in_tables() {
        let hostile = rs(&["v"], vec![vec![Value::str("\u{1b}[2Jred\ttab\0nul")]]);
        let out = render(&hostile, Format::Table);
        assert!(out.contains(r"\u{1b}[2Jred\ttab\u{0}nul"), "{out}");
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    }

    #[test]
    fn item_11_csv_never_writes_inf_or_nan() {
        let odd = rs(
            &["a", "b", "c", "d"],
            vec![vec![
                Value::Float(f64::INFINITY),
                Value::Float(f64::NAN),
                Value::Float(123456789012.34),
                Value::Float(f64::NEG_INFINITY),
            ]],
        );
        assert_eq!(render(&odd, Format::Csv), "a,b,c,d\n,,123456789012.34,\n");
        assert_eq!(
            render(&odd, Format::Json),
            "[{\"a\":null,\"b\":null,\"c\":123456789012.34,\"d\":null}]\n"
        );
    }

    #[test]
    fn table_footer_is_singular_for_one_row() {
        let one = rs(&["n"], vec![vec![Value::Int(5)]]);
        let expected = "\
┌───┐
│ n │
├───┤
│ 5 │
└───┘
(1 row)
";
        assert_eq!(render(&one, Format::Table), expected);
    }

    #[test]
    fn empty_table_keeps_its_header() {
        let empty = rs(&["user_id", "n"], vec![]);
        let expected = "\
┌─────────┬───┐
│ user_id │ n │
├─────────┼───┤
└─────────┴───┘
(0 rows)
";
        assert_eq!(render(&empty, Format::Table), expected);
        assert_eq!(render(&ResultSet::default(), Format::Table), "(0 rows)\n");
    }

    #[test]
    fn csv_quotes_per_rfc_4180_and_leaves_null_empty() {
        let expected = "\
event_type,count,avg
video_view,123,0.5
like,7,
\"a, \"\"quoted\"\" one\",-1,2.0
";
        assert_eq!(render(&sample(), Format::Csv), expected);
        let odd = rs(
            &["a", "b"],
            vec![vec![Value::str("two\nlines"), Value::str("")]],
        );
        assert_eq!(render(&odd, Format::Csv), "a,b\n\"two\nlines\",\"\"\n");
        assert_eq!(render(&rs(&["a"], vec![]), Format::Csv), "a\n");
    }

    #[test]
    fn json_is_one_line_of_objects_in_column_order() {
        let expected = concat!(
            r#"[{"event_type":"video_view","count":123,"avg":0.5},"#,
            r#"{"event_type":"like","count":7,"avg":null},"#,
            r#"{"event_type":"a, \"quoted\" one","count":-1,"avg":2.0}]"#,
            "\n"
        );
        assert_eq!(render(&sample(), Format::Json), expected);
        assert_eq!(render(&rs(&["a"], vec![]), Format::Json), "[]\n");
        let flags = rs(&["ok"], vec![vec![Value::Bool(true)]]);
        assert_eq!(render(&flags, Format::Json), "[{\"ok\":true}]\n");
    }

    #[test]
    fn json_keys_are_made_unique() {
        let cols: Vec<String> = ["n", "n", "n_2", "n"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(unique_keys(&cols), ["n", "n_3", "n_2", "n_4"]);
        let dup = rs(&["n", "n"], vec![vec![Value::Int(1), Value::Int(2)]]);
        assert_eq!(render(&dup, Format::Json), "[{\"n\":1,\"n_2\":2}]\n");
    }

    #[test]
    fn elapsed_has_microsecond_precision() {
        assert_eq!(format_elapsed(Duration::from_nanos(41_700)), "Time: 41 µs");
        assert_eq!(
            format_elapsed(Duration::from_micros(12_345)),
            "Time: 12.345 ms"
        );
        assert_eq!(
            format_elapsed(Duration::from_micros(2_000_001)),
            "Time: 2.000001 s"
        );
    }
}
