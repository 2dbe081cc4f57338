//! JSON with comments, read the way the reference CLI's `jsonc-parser` reads devcontainer.json:
//! `//` and `/* */` comments, trailing commas, a leading UTF-8 BOM, duplicate keys (the last
//! one wins, keeping the first one's place). Numbers behave like JavaScript numbers. A syntax
//! error carries its 1-based line and column. Pure: text in, value out; never panics.

use serde_json::{Map, Number, Value};

/// Where and why parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// What came out of a document: a value, or the first value was not an object literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Object(Map<String, Value>),
    /// The document starts with something other than `{` (the reference rejects it the same
    /// way, whatever follows).
    NotAnObject,
}

/// Parse a whole document that must hold one value.
pub fn parse(text: &str) -> Result<Value, SyntaxError> {
    let mut parser = Parser::new(text);
    parser.skip_trivia()?;
    let value = parser.value(0)?;
    parser.skip_trivia()?;
    if parser.pos < parser.bytes.len() {
        return Err(parser.error("unexpected text after the end of the value"));
    }
    Ok(value)
}

/// Parse a devcontainer.json-like document whose top level must be an object.
pub fn parse_object(text: &str) -> Result<Parsed, SyntaxError> {
    let mut parser = Parser::new(text);
    parser.skip_trivia()?;
    if parser.peek() != Some(b'{') {
        return Ok(Parsed::NotAnObject);
    }
    let value = parser.value(0)?;
    parser.skip_trivia()?;
    if parser.pos < parser.bytes.len() {
        return Err(parser.error("unexpected text after the closing `}`"));
    }
    match value {
        Value::Object(map) => Ok(Parsed::Object(map)),
        _ => Ok(Parsed::NotAnObject),
    }
}

/// Deep nesting beyond this is refused rather than risking the stack.
const MAX_DEPTH: usize = 256;

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn error(&self, message: impl Into<String>) -> SyntaxError {
        let before = self.text.get(..self.pos).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before
            .get(line_start..)
            .map_or(1, |s| s.chars().count() + 1);
        SyntaxError {
            line,
            column,
            message: message.into(),
        }
    }

    fn skip_trivia(&mut self) -> Result<(), SyntaxError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') => match self.bytes.get(self.pos + 1) {
                    Some(b'/') => {
                        while let Some(b) = self.peek() {
                            if b == b'\n' || b == b'\r' {
                                break;
                            }
                            self.pos += 1;
                        }
                    }
                    Some(b'*') => {
                        let start = self.pos;
                        self.pos += 2;
                        loop {
                            match self.peek() {
                                None => {
                                    self.pos = start;
                                    return Err(self.error("unterminated `/*` comment"));
                                }
                                Some(b'*') if self.bytes.get(self.pos + 1) == Some(&b'/') => {
                                    self.pos += 2;
                                    break;
                                }
                                Some(_) => self.pos += 1,
                            }
                        }
                    }
                    _ => return Ok(()),
                },
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting is too deep"));
        }
        match self.peek() {
            None => Err(self.error("expected a value, found the end of the file")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => {
                for (word, value) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if self
                        .text
                        .get(self.pos..)
                        .is_some_and(|s| s.starts_with(word))
                    {
                        self.pos += word.len();
                        return Ok(value);
                    }
                }
                Err(self.error(format!("expected a value, found {}", self.found())))
            }
        }
    }

    fn found(&self) -> String {
        match self.text.get(self.pos..).and_then(|s| s.chars().next()) {
            Some(c) => format!("`{c}`"),
            None => "the end of the file".to_string(),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        self.pos += 1;
        let mut map = Map::new();
        loop {
            self.skip_trivia()?;
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                Some(b'"') => {}
                _ => {
                    return Err(self.error(format!(
                        "expected a property name in double quotes or `}}`, found {}",
                        self.found()
                    )));
                }
            }
            let key = self.string()?;
            self.skip_trivia()?;
            if self.peek() != Some(b':') {
                return Err(self.error(format!(
                    "expected `:` after property name, found {}",
                    self.found()
                )));
            }
            self.pos += 1;
            self.skip_trivia()?;
            let value = self.value(depth + 1)?;
            // IndexMap::insert keeps an existing key's position, like a JavaScript object.
            map.insert(key, value);
            self.skip_trivia()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => {
                    return Err(self.error(format!("expected `,` or `}}`, found {}", self.found())));
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_trivia()?;
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value(depth + 1)?);
            self.skip_trivia()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                _ => {
                    return Err(self.error(format!("expected `,` or `]`, found {}", self.found())));
                }
            }
        }
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(rest) = self.text.get(self.pos..) else {
                return Err(self.error("invalid position in string"));
            };
            let Some(c) = rest.chars().next() else {
                self.pos = start;
                return Err(self.error("unterminated string"));
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                '\\' => {
                    self.pos += 1;
                    let escape = self.peek();
                    self.pos += 1;
                    match escape {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => out.push(self.unicode_escape()?),
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("invalid escape in string"));
                        }
                    }
                }
                '\n' | '\r' => return Err(self.error("line break inside a string")),
                c => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let digits = self.text.get(self.pos..self.pos + 4).unwrap_or("");
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.error("expected four hex digits after `\\u`"));
        }
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.error("invalid `\\u` escape"))
    }

    fn unicode_escape(&mut self) -> Result<char, SyntaxError> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first)
            && self
                .text
                .get(self.pos..)
                .is_some_and(|s| s.starts_with("\\u"))
        {
            let save = self.pos;
            self.pos += 2;
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return Ok(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            self.pos = save;
        }
        // A lone surrogate cannot live in a Rust string; JavaScript would keep it.
        Ok(char::from_u32(first).unwrap_or('\u{fffd}'))
    }

    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits_start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == digits_start {
            return Err(self.error("expected digits in number"));
        }
        let mut is_integer = true;
        if self.peek() == Some(b'.') {
            is_integer = false;
            self.pos += 1;
            let frac_start = self.pos;
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == frac_start {
                return Err(self.error("expected digits after `.` in number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            is_integer = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let exp_start = self.pos;
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == exp_start {
                return Err(self.error("expected digits in exponent"));
            }
        }
        let literal = self.text.get(start..self.pos).unwrap_or("0");
        if is_integer
            && let Ok(n) = literal.parse::<i64>()
            && n.unsigned_abs() <= MAX_SAFE_INTEGER
        {
            return Ok(Value::Number(n.into()));
        }
        let float: f64 = literal.parse().map_err(|_| self.error("invalid number"))?;
        Ok(js_number(float))
    }
}

const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A JavaScript number as JSON: integral values print without a fraction.
#[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
pub fn js_number(float: f64) -> Value {
    if float.fract() == 0.0 && float.abs() <= MAX_SAFE_INTEGER as f64 {
        return Value::Number(Number::from(float as i64));
    }
    Number::from_f64(float).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_comments_trailing_commas_and_bom() {
        let text = "\u{feff}// head\n{ /* a */ \"a\": [1, 2,], \"b\": {\"c\": true,}, }";
        assert_eq!(parse(text).unwrap(), json!({"a": [1, 2], "b": {"c": true}}));
    }

    #[test]
    fn duplicate_keys_last_wins_in_first_place() {
        let value = parse(r#"{"image": "a", "x": 1, "image": "b"}"#).unwrap();
        assert_eq!(value, json!({"image": "b", "x": 1}));
        let keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["image", "x"]);
    }

    #[test]
    fn numbers_behave_like_javascript() {
        assert_eq!(
            parse("[5, 1.0, 2.5, -3, 1e3]").unwrap(),
            json!([5, 1, 2.5, -3, 1000])
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = parse("{\n  \"a\": 1\n  \"b\": 2\n}").unwrap_err();
        assert_eq!((err.line, err.column), (3, 3));
        assert!(err.message.contains("expected `,`"), "{}", err.message);
    }

    #[test]
    fn non_object_top_level_is_reported_as_such() {
        assert_eq!(
            parse_object("\"image\": \"x\",\n}").unwrap(),
            Parsed::NotAnObject
        );
        assert!(parse_object("{\"a\": }").is_err());
    }

    #[test]
    fn unicode_escapes_and_surrogates() {
        assert_eq!(parse(r#""\u00e9\ud83d\ude00""#).unwrap(), json!("é😀"));
    }
}
