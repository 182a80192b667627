//! The user's terminal for interactive sessions: raw mode (restored when the guard
//! drops, on every way out) and its size.

use std::io::IsTerminal;

/// Puts stdin's terminal in raw mode until dropped.
pub struct RawMode {
    saved: libc::termios,
}

impl RawMode {
    /// None when stdin is not a terminal (then nothing changes).
    pub fn enable() -> Option<RawMode> {
        if !std::io::stdin().is_terminal() {
            return None;
        }
        // SAFETY: termios is plain data; tcgetattr fills it for a valid fd (0) and
        // reports failure with -1, which is checked.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw) != 0 {
                return None;
            }
            Some(RawMode { saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the attributes read in enable() on the same fd.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved);
        }
    }
}

/// The terminal's (width, height) in characters, if stdout is a terminal.
pub fn size() -> Option<(u16, u16)> {
    // SAFETY: winsize is plain data; TIOCGWINSZ fills it for a terminal fd and
    // fails with -1 otherwise, which is checked.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0).then_some((ws.ws_col, ws.ws_row))
    }
}
