//! The one table of diagnostic codes. Each code has a level, a one-line title
//! and a long explanation that `assay explain CODE` prints. A test checks that
//! every code here has at least one case in the diagnostics corpus.
//!
//! Ranges: `E00xx` source files, `E01xx` syntax, `E02xx` packages.

use serde::{Serialize, Serializer};

macro_rules! codes {
    ($( $code:ident $level:ident $title:literal $explanation:literal )*) => {
        /// A stable diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $( $code, )* }

        /// Every code, in table order.
        pub const ALL_CODES: &[Code] = &[ $( Code::$code, )* ];

        impl Code {
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$code => stringify!($code), )* }
            }

            pub fn level(self) -> super::Level {
                match self { $( Code::$code => super::Level::$level, )* }
            }

            /// A one-line summary of what the code means.
            pub fn title(self) -> &'static str {
                match self { $( Code::$code => $title, )* }
            }

            /// The long explanation printed by `assay explain`.
            pub fn explanation(self) -> &'static str {
                match self { $( Code::$code => $explanation, )* }
            }

            /// Parses `E0101` (case-insensitive).
            pub fn parse(text: &str) -> Option<Code> {
                let upper = text.trim().to_ascii_uppercase();
                ALL_CODES.iter().copied().find(|c| c.as_str() == upper)
            }
        }
    };
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

codes! {
    E0001 Error "source file is not valid UTF-8"
"Assay source files must be UTF-8 text. The diagnostic points at the first byte
that is not part of a valid UTF-8 sequence.

Re-encode the file, for example with `iconv -f LATIN1 -t UTF-8`, or remove the
stray bytes (often a binary file saved with a `.assay` extension)."

    E0002 Error "source file is too large"
"A single source file may be at most 4 GiB, because spans store byte offsets as
32-bit numbers. Split the package into several files."

    E0003 Error "expression nested too deeply"
"Brackets, parentheses, braces and prefix operators may nest at most 128 levels
deep. The limit keeps the compiler's stack bounded on hostile input; no real
policy comes near it. Name intermediate values with `let` to flatten the
expression."

    E0101 Error "syntax error"
"The parser found something it did not expect. The message lists what would have
been valid at that point.

    rule BP-1 \"Example\" {
      severity high
      fail when host.x == 1 mesage \"oops\"    // `message` misspelt
    }

Look at the underlined token; often the mistake is just before it (a missing
comma, a missing closing bracket or quote)."

    E0102 Error "unknown severity"
"A rule's severity is one of four words: `high`, `medium`, `low` or
`informational`, from most to least urgent.

    rule BP-1 \"Example\" {
      severity critical     // error: not a severity
    }

Use `high` for what Inspector calls high; there is no `critical`."

    E0103 Error "unknown rule clause"
"Inside a rule's braces each line starts with a clause word: `severity`,
`description`, `rationale`, `recommendation`, `references`, `tags`, `platform`,
`applies when`, `let`, `for each` or `fail`.

    rule BP-1 \"Example\" {
      severty high          // error: did you mean `severity`?
    }"

    E0104 Error "unterminated string"
"A string literal starts with `\"` and must end with `\"` on the same line. To
write a long text, split it into several literals on consecutive lines: adjacent
literals are joined.

    recommendation \"Set `PermitRootLogin no` \"
                   \"in /etc/ssh/sshd_config.\""

    E0105 Error "invalid escape sequence"
"Inside a string, a backslash starts an escape: `\\n`, `\\t`, `\\r`, `\\0`,
`\\\\`, `\\\"`, `\\{`, `\\}` or `\\u{1F512}`. Any other character after a
backslash is an error.

For regular expressions, use a raw string, which has no escapes:
`r\"^\\d+$\"`."

    E0106 Error "integer literal out of range"
"Integers are signed 64-bit: from -9223372036854775808 to 9223372036854775807."

    E0107 Error "comparison operators cannot be chained"
"`a < b < c` does not mean what it does in mathematics, so it is rejected.

    fail when 1 < host.x < 10        // error
    fail when 1 < host.x and host.x < 10

Parentheses make an intended comparison of a comparison explicit:
`(a == b) == c`."

    E0108 Error "only named functions can be called"
"A call needs the name of a function, optionally with its module:
`lower(x)`, `strings.lower(x)`. A call on any other expression, such as
`(f)(x)` or `\"a\"(x)`, is an error."

    E0109 Error "doc comment in the wrong place"
"A doc comment (`///`) documents the rule, function or constant right below it,
and a module doc comment (`//!`) documents its file and must come before any
declaration. Anywhere else, use a plain comment (`//`)."

    E0110 Error "interpolation not allowed here"
"Only a finding's `message` and strings inside expressions may interpolate values
with `{...}`. A rule's title, description, rationale, recommendation,
references and tags are fixed text, shown even when a rule did not run.

Write a literal brace as `\\{`."

    E0111 Error "duplicate clause"
"A rule may have at most one `severity`, `description`, `rationale`,
`recommendation`, `references`, `tags`, `platform` and `applies when` clause,
and exactly one check (`fail` or `for each`)."

    E0112 Error "rule has no severity"
"Every rule needs a `severity` clause: findings are sorted and gated on it.

    rule BP-1 \"Example\" {
      severity medium
      fail when host.x == 1 message \"x is 1\"
    }"

    E0113 Error "rule has no check"
"A rule needs exactly one check, a `fail` clause or a `for each` loop that ends in
one. Without it the rule can never produce a finding."

    E0114 Error "quantifier needs a condition"
"`any`, `all` and `none` take a condition after `where`:

    any(p in host.processes where p.user == \"root\")

Only `count` may leave it out, and then counts every item."

    E0201 Error "invalid package manifest"
"A rules package is a folder with a `package.yaml` manifest next to its `.assay`
files:

    name: security-best-practices
    title: Security Best Practices
    version: 1.0.0
    description: Inspector's best-practice checks for Linux hosts.
    platforms: [linux]

`name` is lowercase letters, digits and dashes; `version` is semantic
(`MAJOR.MINOR.PATCH`); `platforms` is a non-empty list."
}
