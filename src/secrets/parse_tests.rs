//! Table tests for the dotenv-3 + Kamal rules; every row cites the rule in kamal.md it checks.
//! Commands are faked here (the fake echoes `printf`/`echo` arguments); `load_tests` runs real sh.

use std::collections::BTreeMap;

use super::*;

/// Evaluates a whole file in order, the way dotenv does, with a fake shell: `echo ARGS` prints
/// ARGS, `fail` fails, anything else prints `<ran: TEXT>`.
struct Fake<'a> {
    earlier: &'a BTreeMap<String, String>,
    env: &'a BTreeMap<String, String>,
    ran: Vec<String>,
}

impl Resolve for Fake<'_> {
    type Error = String;

    fn lookup(&mut self, name: &str) -> Result<Option<String>, String> {
        Ok(self
            .earlier
            .get(name)
            .or_else(|| self.env.get(name))
            .cloned())
    }

    fn run(&mut self, command: &str) -> Result<String, String> {
        self.ran.push(command.to_string());
        if command == "fail" {
            return Err("failed".to_string());
        }
        Ok(match command.strip_prefix("echo ") {
            Some(args) => chomp(format!("{args}\n")),
            None => format!("<ran: {command}>"),
        })
    }
}

fn env() -> BTreeMap<String, String> {
    // kamal.md §1.3: measured with A=shadowed FROM_ENV=envval in the environment.
    [
        ("A", "shadowed"),
        ("FROM_ENV", "envval"),
        ("HOME", "/home/u"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Parse and evaluate every entry in order; returns the final key -> value map.
fn eval_file(text: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let env = env();
    let mut values = BTreeMap::new();
    let mut ran = Vec::new();
    for entry in parse_file(text).expect("parses") {
        let snapshot = values.clone();
        let mut fake = Fake {
            earlier: &snapshot,
            env: &env,
            ran: Vec::new(),
        };
        let value = expand(&entry.raw, entry.quote, &mut fake).expect("expands");
        ran.extend(fake.ran);
        values.insert(entry.key, value);
    }
    (values, ran)
}

fn value_of(text: &str, key: &str) -> String {
    let (values, _) = eval_file(text);
    values
        .get(key)
        .cloned()
        .unwrap_or_else(|| panic!("{key} missing from {text:?}: {values:?}"))
}

#[test]
#[allow(clippy::too_many_lines)] // one row per rule reads better than split tables
fn measured_table() {
    // (rule, file text, key, expected value)
    let rows: &[(&str, &str, &str, &str)] = &[
        // kamal.md §1.3 export prefix, trailing comment stripped; the file wins over env A
        (
            "§1.3 export + comment",
            "export A=plain value   # trailing comment",
            "A",
            "plain value",
        ),
        // kamal.md §1.3 single quotes are literal: no variables, no commands
        (
            "§1.3 single quotes",
            "B='single $A $(echo no)'",
            "B",
            "single $A $(echo no)",
        ),
        // kamal.md §1.3 double quotes: \n stays backslash-n, \t loses its backslash, \" is "
        (
            "§1.3 double quotes",
            "A=plain value\nC=\"double $A \\n tab\\tx \\\"q\\\"\"",
            "C",
            "double plain value \\n tabtx \"q\"",
        ),
        // kamal.md §1.3 ${VAR} from an earlier key
        (
            "§1.3 braces",
            "A=plain value\nD=${A}-suffix",
            "D",
            "plain value-suffix",
        ),
        // kamal.md §1.3 command with a variable expanded in its text first
        (
            "§1.3 command",
            "A=plain value\nE=$(echo cmd-$A)",
            "E",
            "cmd-plain value",
        ),
        // kamal.md §1.2/§1.3 # ends an unquoted value even without a space
        ("§1.3 hash", "F=abc#def", "F", "abc"),
        // kamal.md §1.2 separator `: `
        ("§1.3 colon", "G: colon-sep", "G", "colon-sep"),
        // kamal.md §1.3 double-quoted value spanning two lines keeps a real newline
        (
            "§1.3 multi-line",
            "H=\"line one\nline two\"\nI2=after",
            "H",
            "line one\nline two",
        ),
        // kamal.md §1.3 \$(...) stays literal, without the backslash
        ("§1.3 escaped command", "I=\\$(escaped)", "I", "$(escaped)"),
        // kamal.md §1.3 unset variable is empty
        ("§1.3 unset", "J=$UNSET_VAR", "J", ""),
        // kamal.md §1.3 environment variable
        ("§1.3 env", "K=$FROM_ENV", "K", "envval"),
        // kamal.md §1.3 nested parentheses in a command (the fake shell sees the outer text)
        (
            "§1.3 nested",
            "L=$(printf '%s' \"$(echo nested)\")",
            "L",
            "<ran: printf '%s' \"$(echo nested)\">",
        ),
        // kamal.md §1.2/§1.3 keys may contain dots
        ("§1.3 dotted key", "dotted.key=ok", "dotted.key", "ok"),
        // kamal.md §1.2 overwrite: true, the file's value wins over the environment
        ("§1.2 file wins", "A=from-file\nX=$A", "X", "from-file"),
        // kamal.md §1.2 KEY=$KEY copies from the environment
        (
            "§1.2 copy from env",
            "FROM_ENV=$FROM_ENV",
            "FROM_ENV",
            "envval",
        ),
        // kamal.md §1.2 \$ prevents variable expansion
        ("§1.2 escaped variable", "M=\\$FROM_ENV", "M", "$FROM_ENV"),
        // kamal.md §1.2 variables in double quotes
        ("§1.2 double expands", "N=\"${FROM_ENV}x\"", "N", "envvalx"),
        // kamal.md §1.2 unquoted value is stripped
        (
            "§1.2 unquoted strip",
            "O =   spaced out   ",
            "O",
            "spaced out",
        ),
        // kamal.md §1.2 # inside quotes is part of the value
        ("§1.2 hash in quotes", "P=\"a # b\" # c", "P", "a # b"),
        ("§1.2 hash in single", "Q='a#b'", "Q", "a#b"),
        // kamal.md §1.2 single-quoted values span lines too, literally
        (
            "§1.2 single multi-line",
            "R='one\ntwo $A'",
            "R",
            "one\ntwo $A",
        ),
        // kamal.md §1.2 later keys see earlier ones, not later ones
        ("§1.2 order", "S=$LATER\nLATER=x", "S", ""),
        // kamal.md §1.2 duplicate key: the later line wins
        ("§1.2 duplicate", "T=1\nT=2", "T", "2"),
        // kamal.md §1.2 $NAME ends at a non-name character
        (
            "§1.2 name end",
            "U=$FROM_ENV.com/$HOME",
            "U",
            "envval.com//home/u",
        ),
        // kamal.md §1.2 lowercase names are variables too (dotenv's pattern is case-insensitive)
        ("§1.2 lowercase var", "low=1\nV=$low", "V", "1"),
        // kamal.md §1.2 $ with no name stays
        ("§1.2 bare dollar", "W=cost $ 5 ${}", "W", "cost $ 5 ${}"),
        // kamal.md §1.2 unquoted escapes: backslash drops before anything but $
        ("§1.2 unquoted escapes", "Y=a\\b\\\\c", "Y", "ab\\c"),
        // kamal.md §1.2 quoted value followed by junk falls back to the unquoted reading
        ("§1.2 quote then junk", "Z=\"a\" b", "Z", "\"a\" b"),
        // kamal.md §1.2 empty value
        ("§1.2 empty", "EMPTY=\nNEXT=1", "EMPTY", ""),
        // kamal.md §1.2 empty quotes
        ("§1.2 empty quotes", "EQ=\"\"", "EQ", ""),
        // kamal.md §1.2 command output then goes through variable expansion (commands first)
        (
            "§1.2 command then vars",
            "CV=$(echo \\$FROM_ENV)",
            "CV",
            "envval",
        ),
        // kamal.md §1.2 a variable's value is not run as a command (commands first)
        (
            "§1.2 vars not run",
            "SRC='$(danger)'\nVV=$SRC",
            "VV",
            "$(danger)",
        ),
        // kamal.md §1.2 Kamal: escaped parentheses inside a command do not count
        (
            "§1.2 escaped parens",
            "EP=\"$(echo a\\\\) b)\"",
            "EP",
            "a\\) b",
        ),
        // kamal.md §1.2 \r\n line endings are normalised
        ("§1.2 CRLF", "CR=one\r\nCR2=two\r\n", "CR", "one"),
        // kamal.md §1.2 UTF-8 BOM stripped
        ("§1.2 BOM", "\u{FEFF}BOM=yes", "BOM", "yes"),
        // kamal.md §1.2 comment and blank lines ignored
        (
            "§1.2 comments",
            "# comment\n\n   # indented\nCM=1 # c",
            "CM",
            "1",
        ),
    ];
    for (rule, text, key, expected) in rows {
        assert_eq!(&value_of(text, key), expected, "{rule}: {text:?}");
    }
}

#[test]
fn comments_and_garbage_define_nothing() {
    // kamal.md §1.2 blank and comment lines are ignored; unparseable lines are skipped
    let (values, _) = eval_file("# A=1\n\nnot a valid line here\n#B=2\nC=3");
    assert_eq!(values.keys().collect::<Vec<_>>(), vec!["C"]);
    // kamal.md §1.2 the colon separator needs a space after it
    let (values, _) = eval_file("G:nospace\nH: ok");
    assert_eq!(values.keys().collect::<Vec<_>>(), vec!["H"]);
}

#[test]
fn linebreak_legacy_mode() {
    // kamal.md §1.3 DOTENV_LINEBREAK_MODE=legacy turns \n in double quotes into a line break
    assert_eq!(
        value_of("DOTENV_LINEBREAK_MODE=legacy\nX=\"a\\nb\"", "X"),
        "a\nb"
    );
    // ...but not in unquoted values
    assert_eq!(
        value_of("DOTENV_LINEBREAK_MODE=legacy\nX=a\\nb", "X"),
        "anb"
    );
}

#[test]
fn escaped_and_single_quoted_commands_do_not_run() {
    // kamal.md §1.2 `\$(...)` and single quotes never run anything
    let (_, ran) = eval_file("A=\\$(echo x)\nB='$(echo y)'\nC=\"\\$(echo z)\"");
    assert!(ran.is_empty(), "{ran:?}");
    // kamal.md §1.2 `$()` with nothing inside is not a command
    let (values, ran) = eval_file("D=$()");
    assert!(ran.is_empty());
    assert_eq!(values["D"], "$()");
}

#[test]
fn export_without_value() {
    // dotenv 3: `export KEY` re-exports an earlier key, and is an error otherwise
    let entries = parse_file("A=1\nexport A").unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        parse_file("B=1\n\nexport NOPE").unwrap_err(),
        FormatError {
            line: 3,
            key: "NOPE".into()
        }
    );
}

#[test]
fn entry_lines_and_debug_hide_values() {
    let entries = parse_file("# c\nA=1\nB=\"x\ny\"\nC=2").unwrap();
    let lines: Vec<_> = entries.iter().map(|e| (e.key.as_str(), e.line)).collect();
    assert_eq!(lines, vec![("A", 2), ("B", 3), ("C", 5)]);
    let debug = format!("{entries:?}");
    assert!(!debug.contains("x\ny"), "{debug}");
}

#[test]
fn kamal_secrets_commands_are_recognised() {
    // kamal.md §1.2 special case: `kamal secrets ...` is handled in-process by Kamal
    assert!(is_kamal_secrets_command("kamal secrets fetch -a x"));
    assert!(is_kamal_secrets_command("  kamal  secrets extract A $S"));
    assert!(!is_kamal_secrets_command("kamal version"));
    // Kamal's pattern is `\A\s*kamal\s*secrets\s+`, so the space between is optional
    assert!(is_kamal_secrets_command("kamalsecrets x"));
    assert!(!is_kamal_secrets_command("kamal secretsx"));
    assert!(!is_kamal_secrets_command("echo kamal secrets x"));
}

#[test]
fn chomp_removes_one_line_ending() {
    assert_eq!(chomp("a\n\n".into()), "a\n");
    assert_eq!(chomp("a\r\n".into()), "a");
    assert_eq!(chomp("a".into()), "a");
}

#[test]
fn unbalanced_and_deep_commands_never_panic() {
    for text in [
        "X=$(",
        "X=$((",
        "X=$(a\\",
        "X=\"$(a\\\n)\"",
        "X=$)",
        "X=\\",
        "X=${",
        "X=$",
    ] {
        let _ = eval_file(text);
    }
    let deep = format!("X=$({}a{})", "(".repeat(10_000), ")".repeat(10_000));
    let _ = eval_file(&deep);
}

#[test]
fn line_pattern_compiles() {
    // parse_file falls back to "no entries" if it did not; make that impossible to ship.
    assert!(LINE.is_some());
}

proptest::proptest! {
    #[test]
    fn parsing_and_expanding_never_panics(text in "[ -~\n\t\\\\$(){}'\"#=:ü]{0,80}") {
        let env = BTreeMap::new();
        if let Ok(entries) = parse_file(&text) {
            for entry in entries {
                let earlier = BTreeMap::new();
                let mut fake = Fake { earlier: &earlier, env: &env, ran: Vec::new() };
                let _ = expand(&entry.raw, entry.quote, &mut fake);
            }
        }
    }

    #[test]
    fn single_quoted_values_are_literal(value in "[^'\n\r]{0,40}") {
        // kamal.md §1.2 single-quoted: literal; no escapes, no variables, no commands
        let text = format!("K='{value}'");
        let (values, ran) = eval_file(&text);
        proptest::prop_assert!(ran.is_empty());
        let trimmed = value.as_str();
        proptest::prop_assert_eq!(values.get("K").map(String::as_str), Some(trimmed));
    }
}
