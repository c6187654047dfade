//! Dot commands: a `.` line parsed once into a [`Command`], then applied by
//! the REPL.
//!
//! Parsing never fails: an unknown name or bad arguments become variants
//! that carry the message to show, so the REPL has one place to report them.
//! This module does not run anything.

use std::path::PathBuf;
use std::time::Duration;

use super::format::Format;

/// One parsed dot command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Command {
    Help,
    Schema,
    /// Same as running `SHOW STATS`.
    Stats,
    /// `.mode FORMAT`; `None` prints the current format.
    Mode(Option<Format>),
    /// `.timer on|off`; `None` prints the current setting.
    Timer(Option<bool>),
    /// `.load FILE...`: ingest files (merged by event time).
    Load(Vec<PathBuf>),
    /// `.output FILE`; `None` (no argument, or `stdout`) goes back to stdout.
    Output(Option<PathBuf>),
    /// `.watch SECONDS [TIMES] query`: re-run the query every interval,
    /// printing only changed results, TIMES runs or until Ctrl-C.
    Watch {
        every: Duration,
        times: Option<u64>,
        sql: String,
        /// Characters before `sql` on the `.watch` line: a syntax error's
        /// column in `sql` plus this is its column on the line.
        offset: u64,
    },
    /// `.quit` or `.exit`.
    Quit,
    /// A known command with bad arguments: what is wrong, and its usage line.
    Usage {
        problem: String,
        usage: &'static str,
    },
    /// A name we do not know, as typed (with its dot).
    Unknown(String),
}

/// Usage lines, shared by `.help` and the argument errors.
const HELP: &[(&str, &str)] = &[
    (".help", "Show this help"),
    (".schema", "Show the event schema: columns, actors, metrics"),
    (
        ".stats",
        "Show ingest and engine counters (same as SHOW STATS)",
    ),
    (
        ".mode table|json|csv",
        "Set the output format (no argument: show it)",
    ),
    (".timer on|off", "Print the run time after each statement"),
    (".load FILE...", "Ingest NDJSON files, merged by event time"),
    (
        ".output [FILE]",
        "Send results to FILE; no argument or 'stdout' to go back",
    ),
    (
        ".watch SECONDS [TIMES] QUERY",
        "Re-run QUERY every SECONDS while ingest goes on, printing changed results (Ctrl-C stops)",
    ),
    (".quit", "Exit (also .exit or Ctrl-D)"),
];

/// The names completion offers at the start of a line.
pub(super) const NAMES: &[&str] = &[
    ".exit", ".help", ".load", ".mode", ".output", ".quit", ".schema", ".stats", ".timer", ".watch",
];

fn usage(name: &str) -> &'static str {
    let name = if name == ".exit" { ".quit" } else { name };
    HELP.iter()
        .map(|(u, _)| *u)
        .find(|u| u.split(' ').next() == Some(name))
        .unwrap_or(".help")
}

impl Command {
    /// Parses a dot command line such as `.mode csv` or `.load "my file.json"`.
    pub(super) fn parse(line: &str) -> Command {
        if let Some(rest) = line.trim_start().strip_prefix(".watch") {
            if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                return Command::watch(line, rest);
            }
        }
        let words = split_words(line.trim());
        let Some((name, args)) = words.split_first() else {
            return Command::Unknown(String::new());
        };
        let bad = |problem: String| Command::Usage {
            problem,
            usage: usage(name),
        };
        let no_args = |cmd: Command| match args {
            [] => cmd,
            _ => bad(format!("{name} takes no arguments")),
        };
        match name.as_str() {
            ".help" => no_args(Command::Help),
            ".schema" => no_args(Command::Schema),
            ".stats" => no_args(Command::Stats),
            ".quit" | ".exit" => no_args(Command::Quit),
            ".mode" => match args {
                [] => Command::Mode(None),
                [f] => match f.parse::<Format>() {
                    Ok(f) => Command::Mode(Some(f)),
                    Err(e) => bad(e.to_string()),
                },
                _ => bad(".mode takes one format".into()),
            },
            ".timer" => match args {
                [] => Command::Timer(None),
                [s] => match s.to_ascii_lowercase().as_str() {
                    "on" => Command::Timer(Some(true)),
                    "off" => Command::Timer(Some(false)),
                    _ => bad(format!("expected on or off, not '{s}'")),
                },
                _ => bad(".timer takes on or off".into()),
            },
            ".load" => match args {
                [] => bad(".load needs at least one file".into()),
                files => Command::Load(files.iter().map(PathBuf::from).collect()),
            },
            ".output" => match args {
                [] => Command::Output(None),
                [f] if f == "stdout" => Command::Output(None),
                [f] => Command::Output(Some(PathBuf::from(f))),
                _ => bad(".output takes one file".into()),
            },
            _ => Command::Unknown(name.clone()),
        }
    }

    /// `.watch SECONDS [TIMES] query`: the query is the rest of the line,
    /// as typed (quotes and all), with an optional final `;`. `rest` is the
    /// end of `line` after `.watch`.
    fn watch(line: &str, rest: &str) -> Command {
        let bad = |problem: &str| Command::Usage {
            problem: problem.to_string(),
            usage: usage(".watch"),
        };
        fn word(rest: &mut &str) -> String {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let (w, r) = rest.split_at(end);
            *rest = r.trim_start();
            w.to_string()
        }
        let mut rest = rest.trim_start();
        let every = match word(&mut rest).parse::<f64>() {
            Ok(s) if (0.05..=86_400.0).contains(&s) => Duration::from_secs_f64(s),
            _ => return bad("the interval is a number of seconds from 0.05 to 86400"),
        };
        let mut times = None;
        let next = rest.split_whitespace().next().unwrap_or_default();
        if !next.is_empty() && next.chars().all(|c| c.is_ascii_digit()) {
            match word(&mut rest).parse::<u64>() {
                Ok(n) if n > 0 => times = Some(n),
                _ => return bad("TIMES is a positive number of runs"),
            }
        }
        let rest = rest.trim_start();
        let sql = rest.trim_end().trim_end_matches(';').trim_end().to_string();
        if sql.is_empty() {
            return bad("which query? like .watch 2 SELECT COUNT(*) FROM events WINDOW 1m");
        }
        // `rest` ends `line`, so what comes before it is the line's start.
        let before = &line[..line.len() - rest.len()];
        Command::Watch {
            every,
            times,
            sql,
            offset: before.chars().count() as u64,
        }
    }
}

/// The `.help` text: every command, then a few queries to start from.
pub(super) fn help_text() -> String {
    let width = HELP.iter().map(|(u, _)| u.len()).max().unwrap_or(0);
    let mut out = String::from("Commands:\n");
    for (usage, what) in HELP {
        out.push_str(&format!("  {usage:width$}  {what}\n"));
    }
    out.push_str(
        "\nStatements end with ';' and may span lines. Examples:\n  \
         SELECT TOP 3 event_type FROM events WINDOW 1h;\n  \
         SELECT COUNT(*), AVG(metadata.view_duration_ms) FROM events WINDOW 5m;\n  \
         SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id HAVING n > 20 WINDOW 60s;\n  \
         EXPLAIN SELECT COUNT(*) FROM events WHERE user_id = 42 WINDOW 24h;\n  \
         SHOW STATS;\n\n\
         Continuous rules are checked by the actors on every event; hits print as [hit] lines:\n  \
         CREATE RULE rate_limit AS SELECT user_id, COUNT(*) AS n FROM events\n      \
         GROUP BY user_id HAVING n > 20 WINDOW 60s;\n  \
         SHOW RULES;\n  \
         DROP RULE rate_limit;\n",
    );
    out
}

/// Splits arguments on whitespace; single or double quotes group words
/// (`.load "my events.ndjson"`). An unclosed quote runs to the end.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.get_or_insert_with(String::new).push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            None if c.is_whitespace() => words.extend(word.take()),
            None => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage_of(cmd: Command) -> Option<(String, &'static str)> {
        match cmd {
            Command::Usage { problem, usage } => Some((problem, usage)),
            _ => None,
        }
    }

    #[test]
    fn parses_every_command() {
        assert_eq!(Command::parse(".help"), Command::Help);
        assert_eq!(Command::parse("  .schema  "), Command::Schema);
        assert_eq!(Command::parse(".stats"), Command::Stats);
        assert_eq!(Command::parse(".quit"), Command::Quit);
        assert_eq!(Command::parse(".exit"), Command::Quit);
        assert_eq!(Command::parse(".mode"), Command::Mode(None));
        assert_eq!(
            Command::parse(".mode CSV"),
            Command::Mode(Some(Format::Csv))
        );
        assert_eq!(Command::parse(".timer on"), Command::Timer(Some(true)));
        assert_eq!(Command::parse(".timer OFF"), Command::Timer(Some(false)));
        assert_eq!(Command::parse(".timer"), Command::Timer(None));
        assert_eq!(
            Command::parse(".load a.ndjson 'my events.ndjson'"),
            Command::Load(vec!["a.ndjson".into(), "my events.ndjson".into()])
        );
        assert_eq!(
            Command::parse(".output out.csv"),
            Command::Output(Some("out.csv".into()))
        );
        assert_eq!(Command::parse(".output stdout"), Command::Output(None));
        assert_eq!(Command::parse(".output"), Command::Output(None));
    }

    #[test]
    fn watch_takes_the_rest_of_the_line_as_its_query() {
        assert_eq!(
            Command::parse(".watch 2 SELECT COUNT(*) FROM events WHERE event_type = 'a  b';"),
            Command::Watch {
                every: Duration::from_secs(2),
                times: None,
                sql: "SELECT COUNT(*) FROM events WHERE event_type = 'a  b'".into(),
                offset: 9,
            }
        );
        assert_eq!(
            Command::parse(".watch 0.5 3 SELECT 1"),
            Command::Watch {
                every: Duration::from_millis(500),
                times: Some(3),
                sql: "SELECT 1".into(),
                offset: 13,
            }
        );
        for bad in [
            ".watch",
            ".watch x SELECT 1",
            ".watch 1",
            ".watch 1 0 SELECT 1",
        ] {
            let (_, usage) = usage_of(Command::parse(bad)).unwrap_or_default();
            assert_eq!(usage, ".watch SECONDS [TIMES] QUERY", "{bad}");
        }
        assert_eq!(
            Command::parse(".watcher"),
            Command::Unknown(".watcher".into())
        );
    }

    #[test]
    fn unknown_commands_are_a_variant() {
        assert_eq!(Command::parse(".foo bar"), Command::Unknown(".foo".into()));
        assert_eq!(Command::parse("."), Command::Unknown(".".into()));
        assert_eq!(Command::parse(""), Command::Unknown(String::new()));
    }

    #[test]
    fn wrong_arguments_give_the_usage_line() {
        let (problem, usage) = usage_of(Command::parse(".mode xml")).unwrap_or_default();
        assert_eq!(
            problem,
            "unknown format 'xml': expected one of table, json, csv"
        );
        assert_eq!(usage, ".mode table|json|csv");
        let (_, usage) = usage_of(Command::parse(".timer maybe")).unwrap_or_default();
        assert_eq!(usage, ".timer on|off");
        let (problem, usage) = usage_of(Command::parse(".load")).unwrap_or_default();
        assert_eq!(
            (problem.as_str(), usage),
            (".load needs at least one file", ".load FILE...")
        );
        let (problem, _) = usage_of(Command::parse(".quit now")).unwrap_or_default();
        assert_eq!(problem, ".quit takes no arguments");
        let (_, usage) = usage_of(Command::parse(".exit now")).unwrap_or_default();
        assert_eq!(usage, ".quit");
    }

    #[test]
    fn help_lists_every_command_name() {
        let help = help_text();
        for name in NAMES {
            assert!(
                help.contains(name) || *name == ".exit" && help.contains("also .exit"),
                "{name} missing from .help"
            );
        }
    }

    #[test]
    fn words_honour_quotes() {
        assert_eq!(
            split_words(r#".load "a b" c''d  'e'"#),
            [".load", "a b", "cd", "e"]
        );
        assert_eq!(split_words(r#".output """#), [".output", ""]);
    }
}
