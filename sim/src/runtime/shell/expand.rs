//! Word expansion: parameters, command substitution, arithmetic, tilde, field splitting and
//! pathname expansion, on the word pieces `brush-parser` produces.

use brush_parser::ast;
use brush_parser::word::{
    self, Parameter, ParameterExpr, ParameterTestType, SpecialParameter, SubstringMatchKind,
    TildeExpr, WordPiece, WordPieceWithSource,
};
use futures::future::BoxFuture;

use super::{Ctl, Shell, glob, parser_options};
use crate::runtime::io::Out;

/// A piece of expanded text; `Break` separates the fields of `"$@"`.
#[derive(Debug, Clone)]
pub(super) enum Seg {
    Text { s: String, quoted: bool },
    Break,
}

enum ParamVal {
    One(Option<String>),
    Many(Vec<String>),
}

fn escape_pattern(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Shell {
    fn fail(&self, msg: String) -> Ctl {
        self.io.stderr.print(&format!("{}: {msg}\n", self.arg0));
        Ctl::Exit(if msg.contains("parameter") { 1 } else { 2 })
    }

    /// Expands words into fields (splitting and globbing), as for command arguments.
    pub(crate) async fn expand_words(&mut self, words: &[ast::Word]) -> Result<Vec<String>, Ctl> {
        let mut out = Vec::new();
        for w in words {
            let segs = self.expand_segs(&w.value).await?;
            for field in self.split_fields(segs) {
                let has_meta = field.iter().any(|(s, q)| !q && glob::has_meta(s));
                let text: String = field.iter().map(|(s, _)| s.as_str()).collect();
                if has_meta {
                    let pat: String = field
                        .iter()
                        .map(|(s, q)| if *q { escape_pattern(s) } else { s.clone() })
                        .collect();
                    let found = glob::expand_path(&self.sys.fs, &self.cwd, &pat);
                    if found.is_empty() {
                        out.push(text);
                    } else {
                        out.extend(found);
                    }
                } else {
                    out.push(text);
                }
            }
        }
        Ok(out)
    }

    /// Expands a word into one string (no splitting or globbing): assignments, redirections.
    pub(crate) async fn expand_string(&mut self, word: &str) -> Result<String, Ctl> {
        let segs = self.expand_segs(word).await?;
        Ok(join_segs(&segs, false))
    }

    /// Expands a word into a pattern, quoting the characters that came from quoted text.
    pub(crate) async fn expand_pattern(&mut self, word: &str) -> Result<String, Ctl> {
        let segs = self.expand_segs(word).await?;
        Ok(join_segs(&segs, true))
    }

    /// Expands a here-document body (`$`, `` ` `` and `\` are special; quotes are not).
    pub(crate) async fn expand_heredoc(&mut self, text: &str) -> Result<String, Ctl> {
        let pieces = word::parse_heredoc(text, &parser_options())
            .map_err(|e| self.fail(format!("bad substitution: {e}")))?;
        let mut segs = Vec::new();
        self.expand_pieces(&pieces, true, &mut segs).await?;
        Ok(join_segs(&segs, false))
    }

    fn expand_segs<'a>(&'a mut self, text: &'a str) -> BoxFuture<'a, Result<Vec<Seg>, Ctl>> {
        Box::pin(async move {
            let pieces = word::parse(text, &parser_options())
                .map_err(|e| self.fail(format!("bad substitution: {e}")))?;
            let mut segs = Vec::new();
            self.expand_pieces(&pieces, false, &mut segs).await?;
            Ok(segs)
        })
    }

    fn expand_pieces<'a>(
        &'a mut self,
        pieces: &'a [WordPieceWithSource],
        quoted: bool,
        out: &'a mut Vec<Seg>,
    ) -> BoxFuture<'a, Result<(), Ctl>> {
        Box::pin(async move {
            for p in pieces {
                match &p.piece {
                    WordPiece::Text(s) => out.push(Seg::Text {
                        s: s.clone(),
                        quoted,
                    }),
                    WordPiece::SingleQuotedText(s) => out.push(Seg::Text {
                        s: s.clone(),
                        quoted: true,
                    }),
                    WordPiece::AnsiCQuotedText(s) => out.push(Seg::Text {
                        s: crate::runtime::programs::text::unescape(s).0,
                        quoted: true,
                    }),
                    WordPiece::DoubleQuotedSequence(inner)
                    | WordPiece::GettextDoubleQuotedSequence(inner) => {
                        if inner.is_empty() {
                            out.push(Seg::Text {
                                s: String::new(),
                                quoted: true,
                            });
                        }
                        self.expand_pieces(inner, true, out).await?;
                    }
                    WordPiece::TildeExpansion(t) => {
                        let s = match t {
                            TildeExpr::Home => {
                                self.vars.get("HOME").cloned().unwrap_or_else(|| "/".into())
                            }
                            TildeExpr::WorkingDir => self.cwd.clone(),
                            TildeExpr::UserHome(u) => format!("~{u}"),
                            _ => "~".into(),
                        };
                        out.push(Seg::Text { s, quoted: true });
                    }
                    WordPiece::ParameterExpansion(pe) => self.expand_param(pe, quoted, out).await?,
                    WordPiece::CommandSubstitution(cmd) => {
                        let s = self.command_subst(cmd).await?;
                        out.push(Seg::Text { s, quoted });
                    }
                    WordPiece::BackquotedCommandSubstitution(cmd) => {
                        let mut unq = String::new();
                        let mut it = cmd.chars().peekable();
                        while let Some(c) = it.next() {
                            if c == '\\' && matches!(it.peek(), Some('\\' | '$' | '`')) {
                                if let Some(n) = it.next() {
                                    unq.push(n);
                                }
                            } else {
                                unq.push(c);
                            }
                        }
                        let s = self.command_subst(&unq).await?;
                        out.push(Seg::Text { s, quoted });
                    }
                    WordPiece::EscapeSequence(s) => {
                        let body = s.strip_prefix('\\').unwrap_or(s);
                        let text = if quoted && !body.starts_with(['$', '`', '"', '\\', '\n']) {
                            s.clone()
                        } else if body == "\n" {
                            String::new()
                        } else {
                            body.to_string()
                        };
                        out.push(Seg::Text {
                            s: text,
                            quoted: true,
                        });
                    }
                    WordPiece::ArithmeticExpression(e) => {
                        let v = self.eval_arith(&e.value).await?;
                        out.push(Seg::Text {
                            s: v.to_string(),
                            quoted,
                        });
                    }
                }
            }
            Ok(())
        })
    }

    async fn command_subst(&mut self, cmd: &str) -> Result<String, Ctl> {
        let mut sub = self.subshell();
        let (out, buf) = Out::capture();
        sub.io.stdout = out;
        let code = match super::parse(cmd) {
            Ok(prog) => match sub.run_program(&prog).await {
                Ok(c) | Err(Ctl::Exit(c)) | Err(Ctl::Return(c)) => c,
                Err(_) => 0,
            },
            Err(e) => {
                self.io.stderr.print(&format!("{}: {e}\n", self.arg0));
                2
            }
        };
        drop(sub);
        self.last = code;
        self.subst_status = Some(code);
        let mut s = buf.text();
        while s.ends_with('\n') {
            s.pop();
        }
        Ok(s)
    }

    fn param(&self, p: &Parameter) -> ParamVal {
        match p {
            Parameter::Positional(0) => ParamVal::One(Some(self.arg0.clone())),
            Parameter::Positional(n) => {
                ParamVal::One(self.positional.get(*n as usize - 1).cloned())
            }
            Parameter::Special(s) => match s {
                SpecialParameter::AllPositionalParameters { concatenate: false } => {
                    ParamVal::Many(self.positional.clone())
                }
                SpecialParameter::AllPositionalParameters { concatenate: true } => {
                    let sep = self
                        .vars
                        .get("IFS")
                        .and_then(|i| i.chars().next())
                        .map(String::from)
                        .unwrap_or_default();
                    ParamVal::One(Some(self.positional.join(&sep)))
                }
                SpecialParameter::PositionalParameterCount => {
                    ParamVal::One(Some(self.positional.len().to_string()))
                }
                SpecialParameter::LastExitStatus => ParamVal::One(Some(self.last.to_string())),
                SpecialParameter::ProcessId => ParamVal::One(Some(self.pid.pid.to_string())),
                SpecialParameter::LastBackgroundProcessId => {
                    ParamVal::One(self.last_bg.map(|p| p.to_string()))
                }
                SpecialParameter::ShellName => ParamVal::One(Some(self.arg0.clone())),
                SpecialParameter::CurrentOptionFlags => {
                    let mut f = String::new();
                    if self.opts.errexit {
                        f.push('e');
                    }
                    if self.opts.nounset {
                        f.push('u');
                    }
                    if self.opts.xtrace {
                        f.push('x');
                    }
                    ParamVal::One(Some(f))
                }
            },
            Parameter::Named(n) => ParamVal::One(self.vars.get(n).cloned()),
            Parameter::NamedWithIndex { name, index } if index == "0" => {
                ParamVal::One(self.vars.get(name).cloned())
            }
            Parameter::NamedWithIndex { .. } => ParamVal::One(None),
            Parameter::NamedWithAllIndices { name, .. } => {
                ParamVal::One(self.vars.get(name).cloned())
            }
        }
    }

    fn scalar(&self, p: &Parameter) -> Option<String> {
        match self.param(p) {
            ParamVal::One(v) => v,
            ParamVal::Many(v) => {
                if v.is_empty() {
                    None
                } else {
                    Some(v.join(" "))
                }
            }
        }
    }

    fn is_unset(&self, p: &Parameter, test: &ParameterTestType) -> bool {
        match self.scalar(p) {
            None => true,
            Some(v) => matches!(test, ParameterTestType::UnsetOrNull) && v.is_empty(),
        }
    }

    async fn expand_param(
        &mut self,
        pe: &ParameterExpr,
        quoted: bool,
        out: &mut Vec<Seg>,
    ) -> Result<(), Ctl> {
        let text = |s: String| Seg::Text { s, quoted };
        match pe {
            ParameterExpr::Parameter { parameter, .. } => match self.param(parameter) {
                ParamVal::Many(vals) => {
                    for (i, v) in vals.into_iter().enumerate() {
                        if i > 0 {
                            out.push(Seg::Break);
                        }
                        out.push(text(v));
                    }
                }
                ParamVal::One(v) => {
                    if v.is_none()
                        && self.opts.nounset
                        && let Parameter::Named(n) = parameter
                    {
                        return Err(self.fail(format!("{n}: parameter not set")));
                    }
                    out.push(text(v.unwrap_or_default()));
                }
            },
            ParameterExpr::UseDefaultValues {
                parameter,
                test_type,
                default_value,
                ..
            } => {
                if self.is_unset(parameter, test_type) {
                    let d = default_value.clone().unwrap_or_default();
                    let segs = self.expand_segs(&d).await?;
                    out.extend(segs.into_iter().map(|s| match s {
                        Seg::Text { s, quoted: q } => Seg::Text {
                            s,
                            quoted: q || quoted,
                        },
                        b => b,
                    }));
                } else {
                    out.push(text(self.scalar(parameter).unwrap_or_default()));
                }
            }
            ParameterExpr::AssignDefaultValues {
                parameter,
                test_type,
                default_value,
                ..
            } => {
                if self.is_unset(parameter, test_type) {
                    let d = self
                        .expand_string(&default_value.clone().unwrap_or_default())
                        .await?;
                    if let Parameter::Named(n) = parameter {
                        self.set_var(n, d.clone());
                    }
                    out.push(text(d));
                } else {
                    out.push(text(self.scalar(parameter).unwrap_or_default()));
                }
            }
            ParameterExpr::IndicateErrorIfNullOrUnset {
                parameter,
                test_type,
                error_message,
                ..
            } => {
                if self.is_unset(parameter, test_type) {
                    let msg = self
                        .expand_string(&error_message.clone().unwrap_or_default())
                        .await?;
                    let msg = if msg.is_empty() {
                        "parameter null or not set".to_string()
                    } else {
                        msg
                    };
                    return Err(self.fail(
                        format!("{parameter}: {msg}")
                            .replace("${", "")
                            .replace('}', ""),
                    ));
                }
                out.push(text(self.scalar(parameter).unwrap_or_default()));
            }
            ParameterExpr::UseAlternativeValue {
                parameter,
                test_type,
                alternative_value,
                ..
            } => {
                if !self.is_unset(parameter, test_type) {
                    let a = self
                        .expand_string(&alternative_value.clone().unwrap_or_default())
                        .await?;
                    out.push(text(a));
                } else {
                    out.push(text(String::new()));
                }
            }
            ParameterExpr::ParameterLength { parameter, .. } => {
                let n = match self.param(parameter) {
                    ParamVal::Many(v) => v.len(),
                    ParamVal::One(v) => v.unwrap_or_default().chars().count(),
                };
                out.push(text(n.to_string()));
            }
            ParameterExpr::RemoveSmallestSuffixPattern {
                parameter, pattern, ..
            }
            | ParameterExpr::RemoveLargestSuffixPattern {
                parameter, pattern, ..
            }
            | ParameterExpr::RemoveSmallestPrefixPattern {
                parameter, pattern, ..
            }
            | ParameterExpr::RemoveLargestPrefixPattern {
                parameter, pattern, ..
            } => {
                let v = self.scalar(parameter).unwrap_or_default();
                let pat = self
                    .expand_pattern(&pattern.clone().unwrap_or_default())
                    .await?;
                let idx: Vec<usize> = v
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain(std::iter::once(v.len()))
                    .collect();
                let res = match pe {
                    ParameterExpr::RemoveSmallestPrefixPattern { .. } => idx
                        .iter()
                        .find(|&&i| glob::matches(&pat, &v[..i]))
                        .map(|&i| v[i..].to_string()),
                    ParameterExpr::RemoveLargestPrefixPattern { .. } => idx
                        .iter()
                        .rev()
                        .find(|&&i| glob::matches(&pat, &v[..i]))
                        .map(|&i| v[i..].to_string()),
                    ParameterExpr::RemoveSmallestSuffixPattern { .. } => idx
                        .iter()
                        .rev()
                        .find(|&&i| glob::matches(&pat, &v[i..]))
                        .map(|&i| v[..i].to_string()),
                    _ => idx
                        .iter()
                        .find(|&&i| glob::matches(&pat, &v[i..]))
                        .map(|&i| v[..i].to_string()),
                };
                out.push(text(res.unwrap_or(v)));
            }
            ParameterExpr::Substring {
                parameter,
                offset,
                length,
                ..
            } => {
                let v: Vec<char> = self.scalar(parameter).unwrap_or_default().chars().collect();
                let off = self.eval_arith(&offset.value).await?;
                let start = if off < 0 {
                    v.len().saturating_sub(off.unsigned_abs() as usize)
                } else {
                    (off as usize).min(v.len())
                };
                let end = match length {
                    Some(l) => {
                        let l = self.eval_arith(&l.value).await?;
                        if l < 0 {
                            v.len().saturating_sub(l.unsigned_abs() as usize).max(start)
                        } else {
                            (start + l as usize).min(v.len())
                        }
                    }
                    None => v.len(),
                };
                out.push(text(v[start..end].iter().collect()));
            }
            ParameterExpr::ReplaceSubstring {
                parameter,
                pattern,
                replacement,
                match_kind,
                ..
            } => {
                let v = self.scalar(parameter).unwrap_or_default();
                let pat = self.expand_pattern(pattern).await?;
                let rep = self
                    .expand_string(&replacement.clone().unwrap_or_default())
                    .await?;
                out.push(text(replace_pattern(&v, &pat, &rep, match_kind)));
            }
            ParameterExpr::UppercasePattern { parameter, .. }
            | ParameterExpr::UppercaseFirstChar { parameter, .. } => {
                let v = self.scalar(parameter).unwrap_or_default();
                let s = if matches!(pe, ParameterExpr::UppercasePattern { .. }) {
                    v.to_uppercase()
                } else {
                    let mut c = v.chars();
                    c.next()
                        .map(|f| f.to_uppercase().chain(c).collect())
                        .unwrap_or_default()
                };
                out.push(text(s));
            }
            ParameterExpr::LowercasePattern { parameter, .. }
            | ParameterExpr::LowercaseFirstChar { parameter, .. } => {
                let v = self.scalar(parameter).unwrap_or_default();
                out.push(text(v.to_lowercase()));
            }
            _ => return Err(self.fail("bad substitution".into())),
        }
        Ok(())
    }
}

fn replace_pattern(v: &str, pat: &str, rep: &str, kind: &SubstringMatchKind) -> String {
    let idx: Vec<usize> = v
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(v.len()))
        .collect();
    match kind {
        SubstringMatchKind::Prefix => {
            for &e in idx.iter().rev() {
                if glob::matches(pat, &v[..e]) {
                    return format!("{rep}{}", &v[e..]);
                }
            }
            v.to_string()
        }
        SubstringMatchKind::Suffix => {
            for &s in &idx {
                if glob::matches(pat, &v[s..]) {
                    return format!("{}{rep}", &v[..s]);
                }
            }
            v.to_string()
        }
        SubstringMatchKind::FirstOccurrence | SubstringMatchKind::Anywhere => {
            let all = matches!(kind, SubstringMatchKind::Anywhere);
            let mut out = String::new();
            let mut i = 0;
            let mut done = false;
            while i < idx.len() - 1 {
                let s = idx[i];
                let found = if done {
                    None
                } else {
                    idx[i + 1..]
                        .iter()
                        .rev()
                        .find(|&&e| glob::matches(pat, &v[s..e]))
                        .copied()
                };
                match found {
                    Some(e) => {
                        out.push_str(rep);
                        i = idx.iter().position(|&x| x == e).unwrap_or(idx.len() - 1);
                        if !all {
                            done = true;
                        }
                    }
                    None => {
                        out.push_str(&v[s..idx[i + 1]]);
                        i += 1;
                    }
                }
            }
            out
        }
    }
}

fn join_segs(segs: &[Seg], as_pattern: bool) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Seg::Text { s: t, quoted } => {
                if as_pattern && *quoted {
                    s.push_str(&escape_pattern(t));
                } else {
                    s.push_str(t);
                }
            }
            Seg::Break => s.push(' '),
        }
    }
    s
}

impl Shell {
    /// Splits expanded segments into fields on `$IFS`; each field keeps its quoting per chunk.
    fn split_fields(&self, segs: Vec<Seg>) -> Vec<Vec<(String, bool)>> {
        let ifs = self
            .vars
            .get("IFS")
            .cloned()
            .unwrap_or_else(|| " \t\n".into());
        let mut fields = Vec::new();
        let mut cur: Option<Vec<(String, bool)>> = None;
        for seg in segs {
            match seg {
                Seg::Break => {
                    if let Some(f) = cur.take() {
                        fields.push(f);
                    }
                }
                Seg::Text { s, quoted: true } => cur.get_or_insert_with(Vec::new).push((s, true)),
                Seg::Text { s, quoted: false } => {
                    for c in s.chars() {
                        if ifs.contains(c) {
                            if c.is_whitespace() {
                                if let Some(f) = cur.take() {
                                    fields.push(f);
                                }
                            } else {
                                fields.push(cur.take().unwrap_or_default());
                            }
                            continue;
                        }
                        let f = cur.get_or_insert_with(Vec::new);
                        match f.last_mut() {
                            Some((t, false)) => t.push(c),
                            _ => f.push((c.to_string(), false)),
                        }
                    }
                }
            }
        }
        if let Some(f) = cur {
            fields.push(f);
        }
        fields
    }
}
