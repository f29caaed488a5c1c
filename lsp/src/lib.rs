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
        code_action_provider: Some(lsp_types::CodeActionProviderCapability::Simple(true)),
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
        Server { open: BTreeMap::new(), roots, published: BTreeSet::new(), analyses: HashMap::new() }
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
                        self.open.insert(path.clone(), text);
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
            _ => None,
        };
        let Some(path) = changed else { return Vec::new() };
        self.analyses.clear();
        self.publish(&path)
    }

    /// The diagnostics of the package of `path`, for each of its files.
    fn publish(&mut self, path: &PathBuf) -> Vec<Notification> {
        let Some(analysis) = self.analysis(path) else { return Vec::new() };
        let mut out = Vec::new();
        let own = Url::from_file_path(path).ok();
        for (uri, diagnostics) in diagnostics::by_file(&analysis) {
            // The changed document's list always (an editor may hold stale
            // ones from before it opened), the others' when they changed.
            if diagnostics.is_empty() && !self.published.contains(&uri) && own.as_ref() != Some(&uri) {
                continue;
            }
            if diagnostics.is_empty() {
                self.published.remove(&uri);
            } else {
                self.published.insert(uri.clone());
            }
            let params = PublishDiagnosticsParams { uri, diagnostics, version: None };
            out.push(Notification::new(notification::PublishDiagnostics::METHOD.to_owned(), params));
        }
        out
    }

    fn request(&mut self, r: Request) -> Response {
        let id = r.id.clone();
        let result = match r.method.as_str() {
            request::HoverRequest::METHOD => parse(r).map(|p| to_value(self.hover(p))),
            request::Completion::METHOD => parse(r).map(|p| to_value(self.completion(p))),
            request::Formatting::METHOD => parse(r).map(|p| to_value(self.formatting(p))),
            request::DocumentSymbolRequest::METHOD => parse(r).map(|p| to_value(self.document_symbols(p))),
            request::WorkspaceSymbolRequest::METHOD => parse(r).map(|p| to_value(self.workspace_symbols(p))),
            request::GotoDefinition::METHOD => parse(r).map(|p| to_value(self.definition(p))),
            request::References::METHOD => parse(r).map(|p| to_value(self.references(p))),
            request::Rename::METHOD => parse(r).map(|p| to_value(self.rename(p))),
            request::CodeActionRequest::METHOD => parse(r).map(|p| to_value(self.code_actions(p))),
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
        Some(CompletionResponse::Array(completion::at(&path, &self.open, offset)))
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

    #[allow(deprecated)]
    fn document_symbols(&mut self, p: lsp_types::DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
        let path = path_of(&p.text_document.uri)?;
        let analysis = self.analysis(&path)?;
        let file = analysis.file(&path)?;
        let lines = Lines::new(analysis.text(file));
        let symbols = navigate::symbols(analysis.modules.get(&file)?)
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
        for d in &analysis.diagnostics {
            let Some(fix) = &d.suggestion else { continue };
            let span = fix.span;
            if span.file != file || (span.end as usize) < from || (span.start as usize) > to {
                continue;
            }
            let range = lines.range(span.start as usize, span.end as usize);
            let edit = TextEdit { range, new_text: fix.replacement.clone() };
            let diagnostic = diagnostics::by_file(&analysis).remove(&p.text_document.uri).and_then(|all| {
                all.into_iter().find(|x| x.range == range || x.message.starts_with(&d.message))
            });
            out.push(lsp_types::CodeActionOrCommand::CodeAction(lsp_types::CodeAction {
                title: format!("Replace with `{}`", fix.replacement),
                kind: Some(lsp_types::CodeActionKind::QUICKFIX),
                diagnostics: diagnostic.map(|d| vec![d]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(p.text_document.uri.clone(), vec![edit])])),
                    ..WorkspaceEdit::default()
                }),
                is_preferred: Some(true),
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

fn parse<P: serde::de::DeserializeOwned>(r: Request) -> Result<P, Failed> {
    serde_json::from_value(r.params).map_err(|e| (ErrorCode::InvalidParams, format!("{}: {e}", r.method)))
}

fn to_value<T: serde::Serialize>(value: T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}
