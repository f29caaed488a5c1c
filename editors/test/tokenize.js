// Tokenizes every `.assay` file under the folders given with the TextMate
// grammar of editors/vscode, through vscode-textmate and vscode-oniguruma
// (the engine VS Code and GitHub's highlighting use), and prints JSON: the
// scopes of chosen constructs, and how many files and lines were read.
// tests/editors.rs runs it and asserts on the output.
const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const grammarPath = path.join(__dirname, "..", "vscode", "syntaxes", "assay.tmLanguage.json");
const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;

function files(dir, out) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) files(p, out);
    else if (entry.name.endsWith(".assay")) out.push(p);
  }
  return out;
}

async function main() {
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) =>
      scope === "source.assay"
        ? vsctm.parseRawGrammar(fs.readFileSync(grammarPath, "utf8"), grammarPath)
        : null,
  });
  const grammar = await registry.loadGrammar("source.assay");
  const result = { files: 0, lines: 0, seen: {} };
  // The first token of each kind met: its text and scopes.
  const note = (kind, text, scopes) => {
    if (!result.seen[kind]) result.seen[kind] = { text, scopes };
  };
  for (const dir of process.argv.slice(2)) {
    for (const file of files(dir, [])) {
      result.files += 1;
      let state = vsctm.INITIAL;
      for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        result.lines += 1;
        const tokens = grammar.tokenizeLine(line, state);
        for (const t of tokens.tokens) {
          const text = line.substring(t.startIndex, t.endIndex);
          const scopes = t.scopes.slice(1);
          const last = scopes[scopes.length - 1] || "";
          if (text === "rule" && last.startsWith("keyword")) note("rule keyword", text, scopes);
          if (/^[A-Z]+-[0-9.]+/.test(text) && last.includes("rule")) note("rule id", text, scopes);
          if (text.startsWith("///")) note("doc comment", text, scopes);
          if (/^\/\/[^\/!]/.test(text)) note("comment", text, scopes);
          if (last.startsWith("meta.interpolation") && /^[a-z_.]+$/.test(text)) note("interpolated name", text, scopes);
          if (last === "string.quoted.double.assay" && /^[A-Za-z ]{4,}$/.test(text)) note("string", text, scopes);
          if (text === "host") note("host", text, scopes);
          if (/^(high|medium|low|informational)$/.test(text) && last.includes("severity")) note("severity", text, scopes);
          if (text === "fail when" || text === "fail") note("fail", text, scopes);
          if (/^\d+$/.test(text) && last.startsWith("constant.numeric")) note("number", text, scopes);
        }
        state = tokens.ruleStack;
      }
    }
  }
  process.stdout.write(JSON.stringify(result, null, 2));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e));
  process.exit(1);
});
