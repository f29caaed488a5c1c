//! `assay lsp`: the Language Server Protocol over a connection (stdio from
//! the CLI, in memory in tests). Every answer comes from the compiler's
//! own stages, the open documents' text standing in for the files:
//! diagnostics as `assay check` gives them, formatting as `assay fmt`,
//! hover and completion from the checked program and the telemetry
//! model's documentation, navigation from the syntax trees.
//!
//! Messages are handled in order, one at a time; a document's package is
//! checked again on every change and its diagnostics published for every
//! file of the package (an empty list clears a file's).

mod analysis;
mod completion;
mod diagnostics;
mod hover;
mod navigate;
mod policy_tests;
mod schema_docs;
mod text;

use analysis::Analysis;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::Notification as _;
use lsp_types::request::Request as _;
use lsp_types::{
    notification, request, CompletionOptions, CompletionResponse, DocumentSymbol, DocumentSymbolResponse,
    Hover, HoverContents, HoverProviderCapability, InitializeParams, Location, MarkupContent, MarkupKind,
    OneOf, PublishDiagnosticsParams, RenameOptions, ServerCapabilities, ServerInfo, SymbolInformation,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Url, WorkspaceEdit,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use text::Lines;

/// Why the server stopped other than by `shutdown` and `exit`.
#[derive(Debug)]
pub struct ServeError(pub String);

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServeError {}

fn error(e: impl std::fmt::Display) -> ServeError {
    ServeError(e.to_string())
}

/// The code lenses' commands: run a rule's policy tests; evaluate a rule
/// on the telemetry file of the settings.
const RUN_TESTS: &str = "assay.runTests";
const EVALUATE: &str = "assay.evaluate";

/// What the server offers.
fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".to_owned(), "\"".to_owned()]),
            ..CompletionOptions::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(false),
            work_done_progress_options: Default::default(),
        })),
        document_symbol_provider: Some(OneOf::Left(true)),
        workspace_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_range_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(lsp_types::CodeActionProviderCapability::Simple(true)),
        code_lens_provider: Some(lsp_types::CodeLensOptions { resolve_provider: Some(false) }),
        execute_command_provider: Some(lsp_types::ExecuteCommandOptions {
            commands: vec![RUN_TESTS.to_owned(), EVALUATE.to_owned()],
            ..lsp_types::ExecuteCommandOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

/// Serves one client on `connection` until it says `exit` or goes away.
pub fn serve(connection: &Connection) -> Result<(), ServeError> {
    let (id, params) = connection.initialize_start().map_err(error)?;
    let init: InitializeParams = serde_json::from_value(params).map_err(error)?;
    let result = lsp_types::InitializeResult {
        capabilities: capabilities(),
        server_info: Some(ServerInfo {
            name: "assay".to_owned(),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        }),
    };
    connection.initialize_finish(id, serde_json::to_value(result).map_err(error)?).map_err(error)?;
    let mut server = Server::new(&init);
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request).map_err(error)? {
                    return Ok(());
                }
                let response = server.request(request);
                for out in std::mem::take(&mut server.outbox) {
                    connection.sender.send(Message::Notification(out)).map_err(error)?;
                }
                connection.sender.send(Message::Response(response)).map_err(error)?;
            }
            Message::Notification(n) => {
                if n.method == notification::Exit::METHOD {
                    return Ok(());
                }
                for out in server.notification(n) {
                    connection.sender.send(Message::Notification(out)).map_err(error)?;
                }
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

struct Server {
    /// The open documents' text, by path.
    open: BTreeMap<PathBuf, String>,
    /// The folders the client opened, for workspace symbols.
    roots: Vec<PathBuf>,
    /// The files each published list of diagnostics was for, so a file
    /// that no longer has any is cleared.
    published: BTreeSet<Url>,
    /// The last analysis of each open document's package.
    analyses: HashMap<PathBuf, std::rc::Rc<Analysis>>,
    /// The failures of the last test run in each test file, shown with
    /// the file's own diagnostics until it changes.
    test_failures: BTreeMap<Url, Vec<lsp_types::Diagnostic>>,
    /// The telemetry document the "evaluate" lens runs rules on
    /// (`telemetry` in the initialization options or the `assay` settings).
    telemetry: Option<PathBuf>,
    /// Notifications a request produced, sent before its response.
    outbox: Vec<Notification>,
    /// Where docs/diagnostics.md is published, if the editor said.
    explanations: Option<Url>,
    /// The document changed last, its text before the change and that
    /// text's analysis.
    before_change: Option<(PathBuf, String, std::rc::Rc<Analysis>)>,
}

/// A setting `name`, given as `{NAME: ...}` or `{"assay": {NAME: ...}}`.
fn setting<'a>(settings: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    settings.get(name).or_else(|| settings.get("assay")?.get(name))
}

/// `{"diagnosticsUrl": URL}`: where docs/diagnostics.md is published; a
/// diagnostic's code links to its section there.
fn explanations_setting(settings: &serde_json::Value) -> Option<Url> {
    Url::parse(setting(settings, "diagnosticsUrl")?.as_str()?).ok()
}

/// `{"telemetry": PATH}`; a relative path is the (first) workspace folder's.
fn telemetry_setting(settings: &serde_json::Value, roots: &[PathBuf]) -> Option<PathBuf> {
    let value = setting(settings, "telemetry")?;
    let path = value.as_str().filter(|s| !s.is_empty()).map(PathBuf::from)?;
    Some(match roots.first() {
        Some(root) if path.is_relative() => root.join(path),
        _ => path,
    })
}

fn path_of(url: &Url) -> Option<PathBuf> {
    url.to_file_path().ok()
}

impl Server {
    fn new(init: &InitializeParams) -> Server {
        #[allow(deprecated)]
        let mut roots: Vec<PathBuf> = init
            .workspace_folders
            .iter()
            .flatten()
            .filter_map(|f| path_of(&f.uri))
            .chain(init.root_uri.as_ref().and_then(path_of))
            .collect();
        roots.dedup();
        let options = init.initialization_options.as_ref();
        let telemetry = options.and_then(|s| telemetry_setting(s, &roots));
        let explanations = options.and_then(explanations_setting);
        Server {
            open: BTreeMap::new(),
            roots,
            published: BTreeSet::new(),
            analyses: HashMap::new(),
            test_failures: BTreeMap::new(),
            telemetry,
            explanations,
            before_change: None,
            outbox: Vec::new(),
        }
    }

    fn analysis(&mut self, path: &PathBuf) -> Option<std::rc::Rc<Analysis>> {
        if let Some(a) = self.analyses.get(path) {
            return Some(a.clone());
        }
        let analysis = std::rc::Rc::new(Analysis::of(path, &self.open).ok()?);
        self.analyses.insert(path.clone(), analysis.clone());
        Some(analysis)
    }

    fn notification(&mut self, n: Notification) -> Vec<Notification> {
        let changed = match n.method.as_str() {
            notification::DidOpenTextDocument::METHOD => {
                serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(n.params).ok().and_then(|p| {
                    let path = path_of(&p.text_document.uri)?;
                    self.open.insert(path.clone(), p.text_document.text);
                    Some(path)
                })
            }
            notification::DidChangeTextDocument::METHOD => {
                serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(n.params).ok().and_then(
                    |p| {
                        let path = path_of(&p.text_document.uri)?;
                        // Full synchronisation: the last change is the text.
                        let text = p.content_changes.into_iter().last()?.text;
                        // The text before the change, with its analysis: a `.`
                        // just typed is completed from it (the text without the
                        // `.` is what it checked).
                        self.before_change =
                            match (self.open.insert(path.clone(), text), self.analyses.get(&path)) {
                                (Some(old), Some(analysis)) => Some((path.clone(), old, analysis.clone())),
                                _ => None,
                            };
                        Some(path)
                    },
                )
            }
            notification::DidSaveTextDocument::METHOD => {
                serde_json::from_value::<lsp_types::DidSaveTextDocumentParams>(n.params)
                    .ok()
                    .and_then(|p| path_of(&p.text_document.uri))
            }
            notification::DidCloseTextDocument::METHOD => {
                serde_json::from_value::<lsp_types::DidCloseTextDocumentParams>(n.params).ok().and_then(|p| {
                    let path = path_of(&p.text_document.uri)?;
                    self.open.remove(&path);
                    Some(path)
                })
            }
            notification::DidChangeConfiguration::METHOD => {
                let settings = n.params.get("settings");
                if let Some(t) = settings.and_then(|s| telemetry_setting(s, &self.roots)) {
                    self.telemetry = Some(t);
                }
                let explanations = settings.and_then(explanations_setting);
                if explanations.is_some() && explanations != self.explanations {
                    // Published diagnostics carry the links: publish again.
                    self.explanations = explanations;
                    let open: Vec<PathBuf> = self.open.keys().cloned().collect();
                    return open.iter().flat_map(|p| self.publish(p)).collect();
                }
                None
            }
            _ => None,
        };
        let Some(path) = changed else { return Vec::new() };
        self.analyses.clear();
        if let Ok(url) = Url::from_file_path(&path) {
            self.test_failures.remove(&url);
        }
        if let Some(root) = policy_tests::package_of(&path) {
            return self.publish_tests(&root);
        }
        let mut out = self.publish(&path);
        // The rule ids may have changed: the test files the editor shows
        // (open, or with diagnostics) are checked again, not every one on
        // disk at every keystroke.
        if let Some(analysis) = self.analysis(&path) {
            if let Some(root) = analysis.loaded.packages.first().map(|p| p.root.clone()) {
                out.extend(self.publish_tests_with(&root, &analysis, true));
            }
        }
        out
    }

    /// The diagnostics of the package's test files (with the failures of
    /// the last run in each).
    fn publish_tests(&mut self, root: &std::path::Path) -> Vec<Notification> {
        let Some(analysis) = self.analysis(&root.to_path_buf()) else { return Vec::new() };
        self.publish_tests_with(root, &analysis, false)
    }

    /// [`Server::publish_tests`] with the package's analysis; with `shown`,
    /// only the files the editor shows.
    fn publish_tests_with(
        &mut self,
        root: &std::path::Path,
        analysis: &Analysis,
        shown: bool,
    ) -> Vec<Notification> {
        let rules = policy_tests::rule_ids(analysis);
        let mut out = Vec::new();
        for (path, text) in policy_tests::files(root, &self.open) {
            let Ok(uri) = Url::from_file_path(&path) else { continue };
            if shown && !self.open.contains_key(&path) && !self.published.contains(&uri) {
                continue;
            }
            let mut diagnostics = policy_tests::check(&path, &text, &rules);
            diagnostics.extend(self.test_failures.get(&uri).cloned().unwrap_or_default());
            let open = self.open.contains_key(&path);
            out.extend(self.diagnostics_of(uri, diagnostics, open));
        }
        out
    }

    /// The notification publishing `diagnostics` for `uri`, when there is
    /// something to say: a list, or an empty one that clears what was
    /// published before (or, with `always`, one that clears whatever the
    /// editor holds).
    fn diagnostics_of(
        &mut self,
        uri: Url,
        diagnostics: Vec<lsp_types::Diagnostic>,
        always: bool,
    ) -> Option<Notification> {
        if diagnostics.is_empty() && !self.published.contains(&uri) && !always {
            return None;
        }
        if diagnostics.is_empty() {
            self.published.remove(&uri);
        } else {
            self.published.insert(uri.clone());
        }
        let params = PublishDiagnosticsParams { uri, diagnostics, version: None };
        Some(Notification::new(notification::PublishDiagnostics::METHOD.to_owned(), params))
    }

    /// The diagnostics of the package of `path`, for each of its files.
    fn publish(&mut self, path: &PathBuf) -> Vec<Notification> {
        let Some(analysis) = self.analysis(path) else { return Vec::new() };
        let mut out = Vec::new();
        let own = Url::from_file_path(path).ok();
        for (uri, diagnostics) in diagnostics::by_file(&analysis, self.explanations.as_ref()) {
            // The changed document's list always (an editor may hold stale
            // ones from before it opened), the others' when they changed.
            let always = own.as_ref() == Some(&uri);
            out.extend(self.diagnostics_of(uri, diagnostics, always));
        }
        out
    }

    fn request(&mut self, r: Request) -> Response {
        let id = r.id.clone();
        let result = match r.method.as_str() {
            request::HoverRequest::METHOD => parse(r).map(|p| to_value(self.hover(p))),
            request::Completion::METHOD => parse(r).map(|p| to_value(self.completion(p))),
            request::Formatting::METHOD => parse(r).map(|p| to_value(self.formatting(p))),
            request::RangeFormatting::METHOD => parse(r).map(|p| to_value(self.range_formatting(p))),
            request::DocumentSymbolRequest::METHOD => parse(r).map(|p| to_value(self.document_symbols(p))),
            request::WorkspaceSymbolRequest::METHOD => parse(r).map(|p| to_value(self.workspace_symbols(p))),
            request::GotoDefinition::METHOD => parse(r).map(|p| to_value(self.definition(p))),
            request::References::METHOD => parse(r).map(|p| to_value(self.references(p))),
            request::Rename::METHOD => parse(r).map(|p| to_value(self.rename(p))),
            request::CodeActionRequest::METHOD => parse(r).map(|p| to_value(self.code_actions(p))),
            request::CodeLensRequest::METHOD => parse(r).map(|p| to_value(self.code_lenses(p))),
            request::ExecuteCommand::METHOD => parse(r).and_then(|p| self.execute(p)),
            method => Err((ErrorCode::MethodNotFound, format!("`{method}` is not supported"))),
        };
        match result {
            Ok(value) => Response { id, result: Some(value), error: None },
            Err((code, message)) => Response::new_err(id, code as i32, message),
        }
    }

    /// The open document at `uri`, its package's analysis, the file there,
    /// and the byte offset of `position`.
    fn locate(
        &mut self,
        uri: &Url,
        position: lsp_types::Position,
    ) -> Option<(std::rc::Rc<Analysis>, assay_compiler::FileId, usize)> {
        let path = path_of(uri)?;
        let analysis = self.analysis(&path)?;
        let file = analysis.file(&path)?;
        let offset = Lines::new(analysis.text(file)).offset(position);
        Some((analysis, file, offset))
    }

    fn hover(&mut self, p: lsp_types::HoverParams) -> Option<Hover> {
        let at = p.text_document_position_params;
        let (analysis, file, offset) = self.locate(&at.text_document.uri, at.position)?;
        let (text, span) = hover::at(&analysis, file, offset)?;
        let range = Lines::new(analysis.text(file)).range(span.start as usize, span.end as usize);
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }),
            range: Some(range),
        })
    }

    fn completion(&mut self, p: lsp_types::CompletionParams) -> Option<CompletionResponse> {
        let at = p.text_document_position;
        let path = path_of(&at.text_document.uri)?;
        let text = self.open.get(&path)?;
        let offset = Lines::new(text).offset(at.position);
        let current = self.analysis(&path);
        let before_change = self.before_change.as_ref().filter(|(p, _, _)| *p == path);
        let known = completion::Known {
            current: current.as_deref(),
            before_change: before_change.map(|(_, text, analysis)| (text.as_str(), &**analysis)),
        };
        Some(CompletionResponse::Array(completion::at(&path, &self.open, offset, &known)))
    }

    fn formatting(&mut self, p: lsp_types::DocumentFormattingParams) -> Option<Vec<TextEdit>> {
        let path = path_of(&p.text_document.uri)?;
        let text = self.open.get(&path)?;
        // A document that does not parse is left as it is: its diagnostics say why.
        let formatted = assay_compiler::format::format_source(assay_compiler::FileId(0), text).ok()?;
        if &formatted == text {
            return Some(Vec::new());
        }
        Some(vec![TextEdit { range: Lines::new(text).all(), new_text: formatted }])
    }

    /// The declarations the range touches, each as `assay fmt` writes it
    /// (the formatter lays out whole files; its output has the same
    /// declarations in the same order, so each is taken from there).
    fn range_formatting(&mut self, p: lsp_types::DocumentRangeFormattingParams) -> Option<Vec<TextEdit>> {
        use assay_compiler::syntax::parse;
        let path = path_of(&p.text_document.uri)?;
        let text = self.open.get(&path)?;
        let normalised = assay_compiler::source::normalise(text.clone());
        let formatted = assay_compiler::format::format_source(assay_compiler::FileId(0), &normalised).ok()?;
        let before = parse(assay_compiler::FileId(0), &normalised).module;
        let after = parse(assay_compiler::FileId(0), &formatted).module;
        if before.items.len() != after.items.len() {
            return None;
        }
        let lines = Lines::new(&normalised);
        let (from, to) = (lines.offset(p.range.start), lines.offset(p.range.end));
        let mut edits = Vec::new();
        for (old, new) in before.items.iter().zip(&after.items) {
            let (a, b) = (old.span(), new.span());
            if (a.end as usize) < from || (a.start as usize) > to {
                continue;
            }
            let replacement = &formatted[b.range()];
            if &normalised[a.range()] != replacement {
                edits.push(TextEdit {
                    range: lines.range(a.start as usize, a.end as usize),
                    new_text: replacement.to_owned(),
                });
            }
        }
        Some(edits)
    }

    #[allow(deprecated)]
    fn document_symbols(&mut self, p: lsp_types::DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
        let path = path_of(&p.text_document.uri)?;
        let analysis = self.analysis(&path)?;
        let file = analysis.file(&path)?;
        let lines = Lines::new(analysis.text(file));
        let symbols = navigate::symbols(analysis.modules().get(&file)?)
            .into_iter()
            .map(|s| DocumentSymbol {
                name: s.name,
                detail: s.detail,
                kind: s.kind,
                tags: None,
                deprecated: None,
                range: lines.range(s.span.start as usize, s.span.end as usize),
                selection_range: lines.range(s.name_span.start as usize, s.name_span.end as usize),
                children: None,
            })
            .collect();
        Some(DocumentSymbolResponse::Nested(symbols))
    }

    #[allow(deprecated)]
    fn workspace_symbols(&mut self, p: lsp_types::WorkspaceSymbolParams) -> Option<Vec<SymbolInformation>> {
        let query = p.query.to_lowercase();
        let loaded = assay_compiler::package::load_overlaid(&self.roots, &self.open).ok()?;
        let mut out = Vec::new();
        for file in loaded.source_files() {
            let (Some(source), Some(path)) = (loaded.sources.get(file), loaded.path(file)) else { continue };
            let Ok(uri) = Url::from_file_path(path) else { continue };
            let lines = Lines::new(source.text());
            let module = assay_compiler::syntax::parse(file, source.text()).module;
            for s in navigate::symbols(&module) {
                if !s.name.to_lowercase().contains(&query) {
                    continue;
                }
                out.push(SymbolInformation {
                    name: s.name,
                    kind: s.kind,
                    tags: None,
                    deprecated: None,
                    location: Location {
                        uri: uri.clone(),
                        range: lines.range(s.name_span.start as usize, s.name_span.end as usize),
                    },
                    container_name: s.detail,
                });
            }
        }
        Some(out)
    }

    fn location(analysis: &Analysis, span: assay_compiler::Span) -> Option<Location> {
        let uri = Url::from_file_path(analysis.loaded.path(span.file)?).ok()?;
        let range = Lines::new(analysis.text(span.file)).range(span.start as usize, span.end as usize);
        Some(Location { uri, range })
    }

    fn definition(
        &mut self,
        p: lsp_types::GotoDefinitionParams,
    ) -> Option<lsp_types::GotoDefinitionResponse> {
        let at = p.text_document_position_params;
        let (analysis, file, offset) = self.locate(&at.text_document.uri, at.position)?;
        let occurrence = navigate::occurrence_at(&analysis, file, offset)?;
        let (span, _) = navigate::resolve(&analysis, file, &occurrence)?;
        Some(lsp_types::GotoDefinitionResponse::Scalar(Self::location(&analysis, span)?))
    }

    fn references(&mut self, p: lsp_types::ReferenceParams) -> Option<Vec<Location>> {
        let at = p.text_document_position;
        let (analysis, file, offset) = self.locate(&at.text_document.uri, at.position)?;
        let occurrence = navigate::occurrence_at(&analysis, file, offset)?;
        let (target, _) = navigate::resolve(&analysis, file, &occurrence)?;
        let mut spans = navigate::references(&analysis, target);
        if !p.context.include_declaration {
            spans.retain(|s| *s != target);
        }
        Some(spans.into_iter().filter_map(|s| Self::location(&analysis, s)).collect())
    }

    /// On each rule: run the policy tests that name it; evaluate it on the
    /// telemetry file of the settings.
    fn code_lenses(&mut self, p: lsp_types::CodeLensParams) -> Option<Vec<lsp_types::CodeLens>> {
        let path = path_of(&p.text_document.uri)?;
        let analysis = self.analysis(&path)?;
        let file = analysis.file(&path)?;
        let lines = Lines::new(analysis.text(file));
        let tests = analysis
            .loaded
            .packages
            .first()
            .map(|p| policy_tests::files(&p.root, &self.open))
            .unwrap_or_default();
        let mut out = Vec::new();
        for item in &analysis.modules().get(&file)?.items {
            let assay_compiler::syntax::ast::Item::Rule(rule) = item else { continue };
            let range = lines.range(rule.id.span.start as usize, rule.id.span.end as usize);
            let arguments =
                Some(vec![serde_json::json!(p.text_document.uri), serde_json::json!(rule.id.text)]);
            let n = policy_tests::cases_naming(&tests, &rule.id.text);
            let title = match n {
                0 => "no tests name this rule".to_owned(),
                1 => "▶ run 1 test".to_owned(),
                n => format!("▶ run {n} tests"),
            };
            let command = lsp_types::Command {
                title,
                command: if n == 0 { String::new() } else { RUN_TESTS.to_owned() },
                arguments: arguments.clone(),
            };
            out.push(lsp_types::CodeLens { range, command: Some(command), data: None });
            if let Some(telemetry) = &self.telemetry {
                let name =
                    telemetry.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let command = lsp_types::Command {
                    title: format!("▶ evaluate on {name}"),
                    command: EVALUATE.to_owned(),
                    arguments,
                };
                out.push(lsp_types::CodeLens { range, command: Some(command), data: None });
            }
        }
        Some(out)
    }

    /// Runs a lens's command; what it found is shown as a message (and a
    /// test run's failures as diagnostics on the cases) and returned.
    fn execute(&mut self, p: lsp_types::ExecuteCommandParams) -> Result<serde_json::Value, Failed> {
        let invalid = |m: &str| (ErrorCode::InvalidParams, format!("{}: {m}", p.command));
        let uri: Url = p
            .arguments
            .first()
            .and_then(|u| serde_json::from_value(u.clone()).ok())
            .ok_or_else(|| invalid("the document's URI first"))?;
        let rule = p
            .arguments
            .get(1)
            .and_then(|r| r.as_str())
            .ok_or_else(|| invalid("the rule id second"))?
            .to_owned();
        let path = path_of(&uri).ok_or_else(|| invalid("not a file"))?;
        let analysis = self.analysis(&path).ok_or_else(|| invalid("the package cannot be read"))?;
        let failed = |m: String| (ErrorCode::RequestFailed, m);
        let summary = match p.command.as_str() {
            RUN_TESTS => {
                let root = analysis
                    .loaded
                    .packages
                    .first()
                    .map(|p| p.root.clone())
                    .ok_or_else(|| invalid("not in a package"))?;
                let files = policy_tests::files(&root, &self.open);
                let ran = policy_tests::run(&analysis, &files, &rule).map_err(failed)?;
                for (url, diagnostics) in ran.diagnostics {
                    self.test_failures.insert(url, diagnostics);
                }
                let published = self.publish_tests(&root);
                self.outbox.extend(published);
                match ran.failed {
                    0 => format!("{rule}: {} test case(s) passed", ran.cases),
                    n => format!("{rule}: {n} of {} test case(s) failed (shown on the cases)", ran.cases),
                }
            }
            EVALUATE => {
                let telemetry =
                    self.telemetry.clone().ok_or_else(|| invalid("no telemetry file in the settings"))?;
                evaluate(&analysis, &telemetry, &rule).map_err(failed)?
            }
            other => return Err((ErrorCode::MethodNotFound, format!("no command {other}"))),
        };
        let kind = lsp_types::MessageType::INFO;
        let params = lsp_types::ShowMessageParams { typ: kind, message: summary.clone() };
        self.outbox.push(Notification::new(notification::ShowMessage::METHOD.to_owned(), params));
        Ok(serde_json::Value::String(summary))
    }

    /// Quick fixes: the replacements the diagnostics in the range suggest.
    fn code_actions(
        &mut self,
        p: lsp_types::CodeActionParams,
    ) -> Option<Vec<lsp_types::CodeActionOrCommand>> {
        let path = path_of(&p.text_document.uri)?;
        let analysis = self.analysis(&path)?;
        let file = analysis.file(&path)?;
        let lines = Lines::new(analysis.text(file));
        let (from, to) = (lines.offset(p.range.start), lines.offset(p.range.end));
        let mut out = Vec::new();
        // The document's diagnostics as published, converted once.
        let published = diagnostics::by_file(&analysis, self.explanations.as_ref())
            .remove(&p.text_document.uri)
            .unwrap_or_default();
        for (d, fix) in analysis.diagnostics.iter().flat_map(|d| d.suggestions.iter().map(move |f| (d, f))) {
            // Offered where the diagnostic is; the edit may be elsewhere in
            // the file (a guard goes in the rule's `applies when`).
            let Some(at) = d.primary_span() else { continue };
            if at.file != file
                || fix.span.file != file
                || (at.end as usize) < from
                || (at.start as usize) > to
            {
                continue;
            }
            let at = lines.range(at.start as usize, at.end as usize);
            let range = lines.range(fix.span.start as usize, fix.span.end as usize);
            let edit = TextEdit { range, new_text: fix.replacement.clone() };
            let diagnostic =
                published.iter().find(|x| x.range == at && x.message.starts_with(&d.message)).cloned();
            out.push(lsp_types::CodeActionOrCommand::CodeAction(lsp_types::CodeAction {
                title: fix.title.clone(),
                kind: Some(lsp_types::CodeActionKind::QUICKFIX),
                diagnostics: diagnostic.map(|d| vec![d]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(p.text_document.uri.clone(), vec![edit])])),
                    ..WorkspaceEdit::default()
                }),
                // The one fix a diagnostic suggests is the one to apply; of
                // several (a default or a guard), the author chooses.
                is_preferred: Some(d.suggestions.len() == 1),
                ..lsp_types::CodeAction::default()
            }));
        }
        Some(out)
    }

    fn rename(&mut self, p: lsp_types::RenameParams) -> Option<WorkspaceEdit> {
        let at = p.text_document_position;
        let (analysis, file, offset) = self.locate(&at.text_document.uri, at.position)?;
        let new_name = p.new_name;
        let valid = new_name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && new_name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !valid {
            return None;
        }
        let occurrence = navigate::occurrence_at(&analysis, file, offset)?;
        let (target, _) = navigate::resolve(&analysis, file, &occurrence)?;
        let mut changes: HashMap<Url, Vec<TextEdit>> = HashMap::new();
        for span in navigate::references(&analysis, target) {
            let location = Self::location(&analysis, span)?;
            changes
                .entry(location.uri)
                .or_default()
                .push(TextEdit { range: location.range, new_text: new_name.clone() });
        }
        Some(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() })
    }
}

type Failed = (ErrorCode, String);

/// The outcome of one rule of the package on a telemetry document, and its
/// findings' messages.
fn evaluate(analysis: &Analysis, telemetry: &std::path::Path, rule: &str) -> Result<String, String> {
    let built =
        assay_compiler::build(&analysis.loaded).map_err(|_| "the package does not compile".to_owned())?;
    let bundle = assay_model::bundle::load(&built.bytes).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(telemetry).map_err(|e| format!("{}: {e}", telemetry.display()))?;
    let document = assay_model::telemetry::from_json(&bytes)
        .map_err(|e| format!("{} is not a valid telemetry document: {e}", telemetry.display()))?;
    let host =
        assay_runtime::value::Host::new(document).map_err(|e| format!("{}: {e}", telemetry.display()))?;
    let report =
        assay_runtime::vm::Program::new(&bundle).evaluate(&host, &assay_runtime::vm::Options::default());
    let result = report.rules.iter().find(|r| r.rule_id == rule).ok_or_else(|| format!("no rule {rule}"))?;
    let messages: Vec<&str> =
        report.findings.iter().filter(|f| f.rule_id == rule).map(|f| f.message.as_str()).collect();
    let detail = match &result.outcome {
        assay_model::findings::Outcome::Failed { .. } => messages.join("; "),
        assay_model::findings::Outcome::NotApplicable { reason }
        | assay_model::findings::Outcome::Skipped { reason }
        | assay_model::findings::Outcome::Error { reason } => reason.clone(),
        assay_model::findings::Outcome::Passed => String::new(),
    };
    let name = telemetry.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(if detail.is_empty() {
        format!("{rule} on {name}: {}", result.outcome.name())
    } else {
        format!("{rule} on {name}: {}: {detail}", result.outcome.name())
    })
}

fn parse<P: serde::de::DeserializeOwned>(r: Request) -> Result<P, Failed> {
    serde_json::from_value(r.params).map_err(|e| (ErrorCode::InvalidParams, format!("{}: {e}", r.method)))
}

fn to_value<T: serde::Serialize>(value: T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}
