//! `tally completions SHELL` and `tally man`: generated from the flag
//! definitions, so they name every command.

use super::*;

/// Every subcommand of `tally` and of `tally bench`.
const COMMANDS: &[&str] = &[
    "shell",
    "ingest",
    "run",
    "serve",
    "gen",
    "bench",
    "completions",
    "man",
];

/// `tally --help`'s command list: the names the scripts must mention.
fn listed_commands() -> Vec<String> {
    let help = ok(&["--help"]);
    let list = help
        .split("Commands:\n")
        .nth(1)
        .unwrap_or_default()
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .to_string();
    list.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn completions_mention_every_command() {
    let listed = listed_commands();
    assert_eq!(listed, COMMANDS, "tally --help lists the commands");
    let bench_help = ok(&["bench", "--help"]);
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(&["completions", shell]);
        assert!(script.len() > 1000, "{shell}: {script}");
        for command in COMMANDS {
            assert!(
                script.contains(command),
                "{shell} completion lacks {command}"
            );
        }
        // The flags of a subcommand too.
        assert!(script.contains("reject-file"), "{shell}");
        for bench in ["ingest", "query", "visible", "memory", "serve", "targets"] {
            assert!(bench_help.contains(bench), "{bench_help}");
            assert!(
                script.contains(bench),
                "{shell} completion lacks bench {bench}"
            );
        }
    }
    let out = tally(&["completions", "tcsh"], "");
    assert_eq!(out.code, 2, "an unknown shell is bad usage: {out:?}");
}

#[test]
fn the_man_page_mentions_every_command() {
    let page = ok(&["man"]);
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
    assert!(page.contains(".TH tally 1"), "{page}");
    for command in COMMANDS {
        assert!(
            page.contains(&format!("tally\\-{command}")) || page.contains(command),
            "man page lacks {command}"
        );
    }
    assert!(page.contains(env!("CARGO_PKG_VERSION")), "{page}");
}
