//! The shell: the interactive REPL (`tally`, `tally shell`), its dot
//! commands, and the output formats that `tally run --format` shares.
//!
//! The life of a typed line:
//!
//! 1. `repl` reads a line (rustyline on a terminal, plain stdin otherwise);
//! 2. `splitter` cuts the text into inputs: statements ending in `;`
//!    (possibly over several lines) and single-line dot commands;
//! 3. a statement goes to [`crate::Engine::parse`] and [`crate::Engine::run`];
//!    a dot command is parsed by `command` into an enum and applied;
//! 4. `format` renders the [`crate::ResultSet`] as a table, CSV or JSON;
//!    `diagnostic` renders errors (with a caret under syntax errors).
//!
//! `burst` echoes a long line arriving faster than anyone types (a paste
//! without bracketed-paste markers) instead of letting rustyline redraw it
//! at every wrap; `complete` offers keywords, functions, columns and dot commands on Tab;
//! `progress` draws the progress line of `.load` (and of any long ingest);
//! `follow` tails input files for `tally shell --follow` and `.watch`;
//! `hits` announces continuous-rule hits as they happen.
//!
//! The shell owns presentation only: it never plans or evaluates queries.

mod burst;
mod command;
mod complete;
mod diagnostic;
mod follow;
mod format;
mod hits;
mod progress;
mod repl;
mod splitter;

pub use diagnostic::{render_file_error, render_statement_error};
pub use format::{render, Format};
pub use progress::progress_printer;
pub use repl::{run, ShellOptions};
