//! `tally shell` on a pseudo-terminal, as a paste without bracketed-paste
//! markers or lines typed ahead reach it: many keys at once.
//!
//! No sleeps: the test waits for what the shell writes (the prompt, the
//! answer), with a generous deadline that only a hang reaches.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The shell on a fresh terminal `columns` wide, with a thread collecting
/// everything it writes.
struct Terminal {
    child: Child,
    input: File,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Terminal {
    fn start(columns: u16) -> Terminal {
        let (mut primary, mut secondary) = (0, 0);
        let size = libc::winsize {
            ws_row: 24,
            ws_col: columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty writes two descriptors it opened into the two
        // integers; the name pointer may be null, the termios too.
        let opened = unsafe {
            libc::openpty(
                &mut primary,
                &mut secondary,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors are open and owned by nobody else.
        let (primary, secondary) = unsafe {
            (
                OwnedFd::from_raw_fd(primary),
                OwnedFd::from_raw_fd(secondary),
            )
        };
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("tally"))
            .args(["shell", "--empty"])
            .env("TERM", "xterm")
            .env("HOME", std::env::temp_dir())
            .stdin(Stdio::from(secondary.try_clone().unwrap()))
            .stdout(Stdio::from(secondary.try_clone().unwrap()))
            .stderr(Stdio::from(secondary))
            .spawn()
            .unwrap();
        let input = File::from(primary);
        let mut reader = input.try_clone().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let collected = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buffer = [0; 1 << 16];
            // Ends with an error (EIO) once the shell has exited.
            while let Ok(n @ 1..) = reader.read(&mut buffer) {
                collected.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        Terminal {
            child,
            input,
            output,
        }
    }

    /// Waits until the output holds `text`; returns the output's length.
    fn wait_for(&self, text: &str) -> usize {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            {
                let output = self.output.lock().unwrap();
                if output.windows(text.len()).any(|w| w == text.as_bytes()) {
                    return output.len();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} on the terminal; it shows:\n{}",
                String::from_utf8_lossy(&self.output.lock().unwrap())
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A count over an IN list of at least `size` bytes, on one line.
fn long_statement(size: usize) -> String {
    let mut sql = String::from("SELECT COUNT(*) AS n FROM events WHERE event_type IN ('x'");
    let mut i = 0;
    while sql.len() < size {
        sql += &format!(", 'type_{i}'");
        i += 1;
    }
    sql + ");"
}

#[test]
fn a_long_line_typed_ahead_is_echoed_once_not_redrawn_at_every_wrap() {
    let terminal = Terminal::start(80);
    let before = terminal.wait_for("tally> ");
    let sql = long_statement(60_000);
    let mut input = &terminal.input;
    input.write_all(format!("{sql}\r").as_bytes()).unwrap();
    let after = terminal.wait_for("(1 row)");
    // Redrawn at every wrap, the line would cost ~400 times itself.
    let written = after - before;
    assert!(
        written < 4 * sql.len(),
        "{written} bytes on the terminal for a {} byte line",
        sql.len()
    );
    let screen = terminal.output();
    assert!(screen.contains("│ 0 │"), "{screen}");
    // What was echoed is the line as typed, in order.
    let tail = &sql[sql.len() - 40..];
    assert!(screen.contains(tail), "{tail:?} not echoed");
    input.write_all(b".quit\r").unwrap();
}

#[test]
fn lines_typed_ahead_all_run() {
    let terminal = Terminal::start(80);
    terminal.wait_for("tally> ");
    let mut input = &terminal.input;
    // All three arrive before the first has run: rustyline reads past the
    // first Enter, and must keep what it read for the next lines.
    input
        .write_all(b".mode csv\rSELECT COUNT(*) AS first FROM events;\rSELECT COUNT(*) AS second FROM events;\r")
        .unwrap();
    terminal.wait_for("second\r\n0");
    let screen = terminal.output();
    assert!(screen.contains("first\r\n0"), "{screen}");
    input.write_all(b".quit\r").unwrap();
}

#[test]
fn an_edit_after_a_burst_gives_the_line_back_to_the_editor() {
    let terminal = Terminal::start(80);
    terminal.wait_for("tally> ");
    let mut input = &terminal.input;
    // A long line with a stray 'x' at its end, then, once it is all
    // echoed, two backspaces: the first hands the line to the editor (and
    // is dropped), the second deletes the 'x'. One backspace too many or
    // too few leaves a syntax error instead of an answer.
    let sql = long_statement(2_000);
    let typed = format!("{}x", sql.trim_end_matches(");"));
    input.write_all(typed.as_bytes()).unwrap();
    terminal.wait_for(&typed[typed.len() - 20..]);
    input.write_all(b"\x7f\x7f);\r").unwrap();
    terminal.wait_for("(1 row)");
    let screen = terminal.output();
    assert!(!screen.contains("rror"), "{screen}");
    input.write_all(b".quit\r").unwrap();
}
