// graphspec for VS Code: starts `graphspec lsp` once a YAML file with a top-level `model:` key
// (a graphspec spec) is open. The server itself leaves other YAML files alone (no diagnostics).
import * as vscode from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;

const SPEC = /^model\s*:/m;

function isSpec(document: vscode.TextDocument): boolean {
  return document.languageId === "yaml" && SPEC.test(document.getText());
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  if (client) {
    return;
  }
  const [command, ...args] = vscode.workspace
    .getConfiguration("graphspec")
    .get<string[]>("command", ["graphspec", "lsp"]);
  const serverOptions: ServerOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file", language: "yaml" }],
  };
  client = new LanguageClient("graphspec", "graphspec", serverOptions, clientOptions);
  context.subscriptions.push(client);
  await client.start();
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const maybeStart = (document: vscode.TextDocument) =>
    isSpec(document) ? start(context) : Promise.resolve();
  context.subscriptions.push(vscode.workspace.onDidOpenTextDocument(maybeStart));
  await Promise.all(vscode.workspace.textDocuments.map(maybeStart));
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
