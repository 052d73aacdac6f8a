//! The `--targets` file: vegeta's HTTP targets format, so existing files work.
//!
//! ```text
//! # a comment
//! GET http://127.0.0.1:8080/a
//! X-Account: 1
//!
//! POST http://127.0.0.1:8080/api
//! Content-Type: application/json
//! @body.json
//!
//! http://127.0.0.1:8080/b
//! ```
//!
//! Each entry is a request line (`METHOD URL`, or a bare URL for GET), then header lines
//! (`Name: value`), then at most one `@path` line naming the body's file; entries are
//! separated by blank lines (a request line also starts a new entry). Lines starting with `#`
//! are comments. Pure: this reads text, the caller reads the body files and checks the URLs;
//! every error names its line (1-based).

use std::fmt;

/// One entry as written, with the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    pub method: String,
    pub url: String,
    /// `(name, value, line)`: each header with its own line, for errors found later.
    pub headers: Vec<(String, String, usize)>,
    /// `@path`, and its line.
    pub body: Option<(String, usize)>,
}

/// A line that is not what the format allows there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetsError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for TargetsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parses a whole targets file.
pub fn parse(text: &str) -> Result<Vec<Entry>, TargetsError> {
    let mut entries: Vec<Entry> = Vec::new();
    // Whether the last entry may still take headers and a body (no blank line since).
    let mut open = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r').trim();
        let fail = |message: String| TargetsError { line: line_no, message };
        if line.is_empty() {
            open = false;
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if let Some((method, url)) = request_line(line) {
            if !method.bytes().all(is_token_byte) {
                return Err(fail(format!("'{method}' is not a method (expected e.g. GET or POST)")));
            }
            entries.push(Entry { line: line_no, method, url, headers: Vec::new(), body: None });
            open = true;
            continue;
        }
        let Some(entry) = entries.last_mut().filter(|_| open) else {
            return Err(fail(format!("expected a request line (METHOD URL, or a URL), found '{}'", shorten(line))));
        };
        if let Some(path) = line.strip_prefix('@') {
            if entry.body.is_some() {
                return Err(fail("a second @body line for one entry".to_string()));
            }
            if path.is_empty() {
                return Err(fail("@ needs a file path, e.g. @body.json".to_string()));
            }
            entry.body = Some((path.to_string(), line_no));
            continue;
        }
        if entry.body.is_some() {
            return Err(fail("a header after the @body line (the body comes last)".to_string()));
        }
        let (name, value) = parse_header(line).map_err(fail)?;
        entry.headers.push((name, value, line_no));
    }
    if entries.is_empty() {
        return Err(TargetsError {
            line: 0,
            message: "no entries (expected lines such as GET http://HOST/PATH)".into(),
        });
    }
    Ok(entries)
}

/// `METHOD URL` or a bare `URL` (the scheme in any case).
fn request_line(line: &str) -> Option<(String, String)> {
    let is_url = |s: &str| {
        let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
        lower.starts_with("http://") || lower.starts_with("https://")
    };
    if is_url(line) {
        return Some(("GET".to_string(), line.to_string()));
    }
    let (method, rest) = line.split_once(char::is_whitespace)?;
    let url = rest.trim();
    (is_url(url) && !method.ends_with(':')).then(|| (method.to_string(), url.to_string()))
}

/// `Name: value`: a token, a colon, a value without control characters.
fn parse_header(line: &str) -> Result<(String, String), String> {
    let Some((name, value)) = line.split_once(':') else {
        return Err(format!(
            "expected a header (Name: value), a body (@path) or a blank line, found '{}'",
            shorten(line)
        ));
    };
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(format!("'{name}' is not a header name"));
    }
    let value = value.trim();
    if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return Err(format!("the value of {name} has a control character"));
    }
    Ok((name.to_string(), value.to_string()))
}

/// RFC 9110 token characters (methods, header names).
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn shorten(line: &str) -> String {
    match line.char_indices().nth(60) {
        Some((at, _)) => format!("{}...", &line[..at]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(line: usize, method: &str, url: &str) -> Entry {
        Entry { line, method: method.into(), url: url.into(), headers: Vec::new(), body: None }
    }

    #[test]
    fn vegeta_format() {
        let text = "# comment\nGET http://h/a\nX-A: 1\nX-B:2\n\nPOST http://h/p\r\nContent-Type: application/json\r\n@body.json\r\n\r\nhttp://h/b\nHEAD HTTP://h/c\n";
        let entries = parse(text).unwrap();
        assert_eq!(entries.len(), 4);
        assert_eq!(
            entries[0],
            Entry {
                headers: vec![("X-A".into(), "1".into(), 3), ("X-B".into(), "2".into(), 4)],
                ..entry(2, "GET", "http://h/a")
            }
        );
        assert_eq!(entries[1].body, Some(("body.json".into(), 8)));
        assert_eq!(entries[1].headers, vec![("Content-Type".to_string(), "application/json".to_string(), 7)]);
        assert_eq!(entries[2], entry(10, "GET", "http://h/b"));
        assert_eq!(entries[3], entry(11, "HEAD", "HTTP://h/c"));
    }

    #[test]
    fn errors_name_the_line() {
        for (text, line, words) in [
            ("", 0, "no entries"),
            ("# only\n\n", 0, "no entries"),
            ("X-A: 1\n", 1, "expected a request line"),
            ("GET http://h/\n\nX-A: 1\n", 3, "expected a request line"),
            ("GET http://h/\nnot a header\n", 2, "expected a header"),
            ("GET http://h/\nBad Name: x\n", 2, "not a header name"),
            ("GET http://h/\n@a\n@b\n", 3, "second @body"),
            ("GET http://h/\n@\n", 2, "needs a file path"),
            ("GET http://h/\n@a\nX: y\n", 3, "after the @body"),
            ("G(T http://h/\n", 1, "not a method"),
            ("GET ftp://h/\n", 1, "expected a request line"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(words), "{text:?}: {e}");
        }
    }
}
