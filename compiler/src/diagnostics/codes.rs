//! The one table of diagnostic codes. Each code has a level, a one-line title
//! and a long explanation that `assay explain CODE` prints. A test checks that
//! every code here has at least one case in the diagnostics corpus.
//!
//! Ranges: `E00xx` source files, `E01xx` syntax, `E02xx` packages, `E03xx`
//! names, `E04xx` types, `E09xx` internal errors, `W01xx` lints (warnings; `--deny-warnings` makes
//! them errors).

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

impl Code {
    /// The fragment naming this code's section in docs/diagnostics.md
    /// (`e0402`), which editors link a diagnostic's code to.
    pub fn anchor(self) -> String {
        self.as_str().to_ascii_lowercase()
    }
}

/// docs/diagnostics.md: every code with its title and explanation, as
/// `assay explain` prints them. A test keeps the file current.
pub fn reference() -> String {
    let mut out = String::from(
        "# Diagnostic codes\n\n\
         Generated from the compiler's code table (`ASSAY_UPDATE_DOCS=1 cargo test -p assay-compiler \
         --test corpus`); `assay explain CODE` prints the same text. `E` codes are errors, `W` codes \
         lints (warnings; `--deny-warnings` makes them errors).\n",
    );
    for code in ALL_CODES {
        let level = match code.level() {
            super::Level::Error => "error",
            super::Level::Warning => "warning",
        };
        out.push_str(&format!(
            "\n<a id=\"{}\"></a>\n## {code}: {} ({level})\n\n{}\n",
            code.anchor(),
            code.title(),
            code.explanation().trim_end()
        ));
    }
    out
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

`find` also needs one. Only `count` may leave it out, and then counts every
item."

    E0115 Error "clause after the check"
"A rule reads top to bottom: its `let` bindings and its `applies when`
precondition come before the check (`fail when ...` or `for each ...`), which
is the last clause that runs. Metadata clauses (`severity`, `description`,
`references`, ...) may stand anywhere.

    rule R-1 \"...\" {
      severity low
      applies when host.sshd is present
      fail when host.sshd.permit_root_login == \"yes\"
        message \"root may log in\"
    }

Move the clause above the check."

    E0116 Error "unclosed delimiter"
"A `{`, `(` or `[` was opened and the declaration or expression ended
before its closing `}`, `)` or `]`. The diagnostic points at the opening
delimiter; the error after it is where the parser noticed.

Add the closing delimiter where the block, group or list ends."

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

    E0301 Error "unknown name"
"A name must be a `let` binding, a loop variable, a function parameter, a
constant of this module, an imported name, `host`, or a value of an
enumeration (`tcp`, `listen`, ...) where one is expected.

    import common.{MAX_AUTH_TRIES}
    ... fail when host.sshd.max_auth_tries > MAX_AUTH_TRIES

A binding is visible only after its `let`, and a loop variable only inside
its `for each` or quantifier. Telemetry is read through `host`:
`host.packages`, not `packages`."

    E0302 Error "unknown telemetry field"
"The record has no field of that name. The fields of every telemetry record,
with their types, are listed in docs/telemetry.md, which is generated from the
same Rust types the collector writes, so a field the checker accepts is a
field the collector fills.

    host.sshd.permit_root_login      // not permitrootlogin or PermitRootLogin"

    E0303 Error "unknown function"
"Only functions defined with `fn` in this package, and standard-library
natives, can be called. A function of another module is imported
(`import common.{is_weak}` or `import common` and `common.is_weak(x)`); a
native is reached through its module: `import std.strings` and then
`strings.lower(s)`. `assay explain` lists no natives; docs/language.md does."

    E0304 Error "unknown module or imported name"
"`import NAME` names another `.assay` file of the same package (its file name
without the extension); `import std.NAME` names a standard-library module
(`strings`, `lists`, `bits`, `modes`, `net`). The names in braces must be
constants or functions that module defines."

    E0305 Error "duplicate rule id"
"Rule ids identify findings, fingerprints and suppressions, so each id may be
used once across every package compiled together. Rename one of the rules;
prefixes per package (`SBP-`, `CIS-`, `RBA-`) keep ids apart."

    E0306 Error "duplicate definition"
"Two constants or functions of one module, two imports, two parameters of a
function, or two `let` bindings of one scope have the same name; or a
definition uses the name `host`, which is the telemetry document. Give each
its own name. Loop variables may shadow outer names."

    E0307 Error "import cycle"
"Modules may not import each other, directly or through other modules: a
constant's value would depend on itself, and the order to read the modules in
would be undefined. Move what both need into a third module that imports
neither."

    E0308 Error "recursive definition"
"A function may not call itself, directly or through other functions, and a
constant may not depend on its own value. This is what makes every evaluation
end: the only loops are `for each` and the quantifiers, which walk collections
that already exist. Express repetition with a quantifier over a list."

    E0309 Error "unknown or unsupported platform"
"A rule's `platform` clause names platforms from the list in docs/language.md
(`linux`, `debian`, `ubuntu`, `rhel`, `alpine`, ...), and each must be covered
by the package manifest's `platforms` (`linux` covers all)."

    E0310 Error "constant is not a fixed value"
"A constant is computed once, from literals, other constants, operators and
standard-library natives. It cannot read telemetry (`host`) or call a
function of the package, which may read telemetry. Use a function, or a `let`
inside the rule."

    E0311 Error "invalid lookup by name"
"`host.sysctl(NAME)`, `host.file(PATH)`, `host.module(NAME)` and
`host.service(UNIT)` look up one item by name. The name must be a string
literal, so the bundle can tell the collector what to gather, and a name
the collector can look up: a dotted kernel parameter
(`net.ipv4.ip_forward`), an absolute, normal file path outside /proc, /sys
and /dev (`/etc/shadow`), a module name with `-` (`usb-storage`), a unit
with its type (`ssh.service`). A lookup of a file's contents,
`host.json(PATH, KEY)` and the other formats, takes the path and the key
(or for `host.lines`, a regular expression) as literals, then up to two
options: `\"presence\"` or `\"not secret: WHY\"` (E0313), and
`\"drop-ins: DIR/*SUFFIX\"`, a folder whose files are read after the file in
name order, each overriding it (`/etc/kubernetes/kubelet.conf.d/*.conf`); a
key is dotted names with quoted parts (`plugins.\"io.containerd.grpc.v1.cri\".x`),
an INI key `SECTION.KEY`.

    let forwarding = host.sysctl(\"net.ipv4.ip_forward\")
    fail when (forwarding.runtime ?? \"unset\") != \"0\"
      message \"IP forwarding is on, or its state is unknown\"

A value that is missing (the host has no such parameter) must make the rule
fail or be handled on purpose, never pass: write the default so that it
fails, as above. Walking `host.kernel.parameters` with `for each` instead
would pass when the parameter is missing."

    E0312 Error "item the collector does not look up"
"`host.kernel.parameters`, `host.kernel.modules` and `host.files` hold only
the items the collector looks up by name: its own list (docs/telemetry.md)
and what the bundle's rules look up with `host.sysctl(...)`,
`host.module(...)` and `host.file(...)`. Searching them for another name,

    for each p in host.kernel.parameters where p.name == \"kernel.unprivileged_bpf_disabled\"

never matches, so the rule would pass everywhere. Look the item up instead:

    let bpf = host.sysctl(\"kernel.unprivileged_bpf_disabled\")"

    E0313 Error "credential looked up by value"
"A lookup of a file's contents reads only the keys it names, and never the
value of one whose name looks like a credential: `password`, `passwd`,
`secret`, `token`, `credential`, `private`, `apikey`, or `key`, `auth`,
`pass`, `pwd`, `dsn` as whole words. Such a key can be looked up for its
presence only, which gives a `bool?`:

    let has_password = host.yaml(\"/etc/app/config.yaml\", \"db.password\", \"presence\")

A key whose name matches but holds no secret (a path to a key file, say) is
read when the rule says why, in words a reviewer can check:

    let key_file = host.keyvalue(\"/etc/postgresql/15/main/postgresql.conf\", \"ssl_key_file\",
      \"not secret: the path of the key file, not the key\")"

    E0314 Error "configuration or key the collector does not read"
"`host.config` holds the settings of a fixed set of configurations
(`journald`, `coredump`, `faillock`, `ufw`, `auditd`, `audit-rules`,
`rsyslog`, `apt`, `profile` and the firewall rulesets), and of each only
the keys docs/telemetry.md lists under \"Configurations\". Keys keep their
case, as the programs read them. Comparing a setting's `config` or `key`
with anything else never matches, so the rule would pass on every host:

    find(c in host.config ?? [] where c.config == \"journald\" and c.key == \"storage\")

is an error (the key is `Storage`). To read another program's file, look
its keys up: `host.keyvalue(PATH, KEY)`, `host.ini(...)`, `host.json(...)`."

    E0315 Error "invalid parameter"
"A package parameter is a value a scan, a policy test case or a fleet
template may set, with a default the package declares:

    /// How many authentication attempts sshd may allow.
    param MAX_AUTH_TRIES: int = 4

Its type is written and is one a command line can give: `int`, `string`,
`bool` or `list<string>`; its default is a literal of that type; a package
declares each name once (it is named `PACKAGE.NAME`). A constant may be
computed from a parameter."

    E0401 Error "mismatched types"
"An operator, a condition, a function argument or a declared type got a value
of another type. Conditions are `bool`; `<` compares two ints, two versions or
two strings; `in` tests membership in a list of the same type; a version is
compared with a version literal, not a string:

    p.version < v\"3.0.15-1~deb12u1\"      // not \"3.0.15-1~deb12u1\"

Types are listed in docs/language.md and docs/telemetry.md."

    E0402 Error "optional value used without handling absence"
"Telemetry can be missing: a sensor fails, a file does not exist, a setting is
unset. Such values are optional (`T?` in docs/telemetry.md), and reading one
where a value is needed must say what absence means. Otherwise the rule could
report \"passed\" because the data it looked at was missing. Three ways:

    host.kernel_value ?? 0                                 // a default
    host.sshd is present and host.sshd.max_auth_tries > 4  // a presence test
    applies when host.sshd is present                      // a guard: not applicable

After a presence test (in `and`, `or`, `if`, a `where` filter or `applies
when`) the value is known to be present and can be used directly. Reading a
field of an optional record gives an optional field (`l.process.name` is
`string?` when `process` is optional)."

    E0403 Error "wrong number of arguments"
"A function was called with more or fewer arguments than it declares. The help
shows the parameters' types."

    E0404 Error "field access on a value without fields"
"Only telemetry records (`host`, `Package`, `Listener`, ...) have fields. A
string, int, list or enumeration value has none; a list's items are reached
with `for each` or a quantifier."

    E0405 Error "invalid regular expression"
"The pattern after `matches` does not parse. Patterns use RE2 syntax, which
matches in linear time: no backreferences and no lookaround. Write patterns as
raw strings so backslashes need no escaping: `s matches r\"^\\d+$\"`."

    E0406 Error "invalid version literal"
"A version literal `v\"...\"` must be a version some scheme can read: it starts
with a digit (an epoch such as `1:` is a digit too), has no whitespace, and
uses letters, digits and `.+-~:_`. It takes the comparison scheme of the value
it is compared with (dpkg for Debian packages, rpm, apk, PEP 440)."

    E0407 Error "unknown type"
"Types in signatures and annotations are `bool`, `int`, `string`, `version`,
`list<T>`, the telemetry records and enumerations of docs/telemetry.md
(`Package`, `Listener`, `Protocol`, ...), and any of them followed by `?` for
an optional value."

    E0408 Error "invalid CIDR block"
"The block given to `net.in_cidr(address, BLOCK)` as a literal does not
parse: it is an IPv4 or IPv6 address with an optional prefix length no
longer than the address (`10.0.0.0/8`, `172.16.0.0/12`, `fc00::/7`). A
block that is not a literal is checked when the rule runs, and makes the
call absent.

    (net.in_cidr(address, \"10.0.0.0/8\") ?? false)"

    E0901 Error "internal compiler error"
"The compiler reached a state its own invariants rule out (for example, the
bundle content could not be encoded). This is a bug in assay, not in the
policy: please report it with the sources that trigger it. No bundle is
written."

    W0101 Warning "unused binding"
"A `let` binding is never read. Remove it, or start its name with `_` if it
is there for documentation."

    W0102 Warning "unused import"
"An imported module or name is never used in this module. Remove it from the
import."

    W0103 Warning "unused function or constant"
"A function or constant is not used anywhere in its package. Packages cannot
reach each other's definitions, so it is dead code."

    W0104 Warning "constant condition"
"An `applies when` or `fail when` condition reads no telemetry, so it has the
same value on every host: the rule always fires, never fires, or is never
applicable. Usually a typo, such as comparing a constant with itself."

    W0105 Warning "rule without description or recommendation"
"Findings show a description (what is wrong) and a recommendation (what to do
about it). A rule without them produces findings nobody can act on."

    W0106 Warning "comparison can never hold"
"The comparison is always false whatever the host: an integer field compared
with a value outside its range (`l.port > 65535`: ports are 0 to 65535), or an
enumeration compared with a string that is none of its values
(`l.protocol == \"sctp\"`: protocols are tcp and udp)."

    W0107 Warning "presence test or default on a value that is never absent"
"`is present`, `is absent` and `??` handle optional values. This value is
never absent, so the test is constant or the default is never used. Remove
it; docs/telemetry.md marks optional fields with `?`."

    W0108 Warning "unknown kernel parameter"
"`host.sysctl(NAME)` names a parameter no kernel documents (the compiler's
table comes from the kernel's documentation and a running kernel's
/proc/sys; `*` segments, such as an interface in `net.ipv4.conf.eth0.x`,
match any name). No host has it, so a rule reading it judges only its
default, everywhere: usually a typo, as in `kernel.unprivileged_bpf_disable`. A warning, since a
parameter of an out-of-tree module may be missing from the table; deny it
with `--deny-warnings` in CI."
}
