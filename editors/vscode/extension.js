// Starts `assay lsp` for .assay files; the server does the work.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("assay").get("path") || "assay";
  const server = { command, args: ["lsp"] };
  client = new LanguageClient(
    "assay",
    "Assay",
    { run: server, debug: server },
    {
      documentSelector: [{ scheme: "file", language: "assay" }],
      initializationOptions: {
        telemetry: vscode.workspace.getConfiguration("assay").get("telemetry") || "",
        diagnosticsUrl: vscode.workspace.getConfiguration("assay").get("diagnosticsUrl") || "",
      },
      synchronize: { configurationSection: "assay" },
    }
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
