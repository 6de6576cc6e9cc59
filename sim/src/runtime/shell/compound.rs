//! Compound commands: `{ }`, `( )`, `for`, `case`, `if`, `while`/`until`, `(( ))` and the
//! arithmetic `for`, with `break`/`continue` unwinding.

use brush_parser::ast::{self, CompoundCommand, CompoundList};
use futures::future::BoxFuture;

use super::{Ctl, R, Shell, glob};

impl Shell {
    pub(super) fn run_compound<'a>(&'a mut self, cc: &'a CompoundCommand) -> BoxFuture<'a, R> {
        Box::pin(async move {
            match cc {
                CompoundCommand::BraceGroup(b) => self.run_list(&b.list).await,
                CompoundCommand::Subshell(s) => {
                    let mut sub = self.subshell();
                    match sub.run_list(&s.list).await {
                        Ok(c) | Err(Ctl::Exit(c)) | Err(Ctl::Return(c)) => {
                            self.last = c;
                            Ok(c)
                        }
                        Err(_) => Ok(0),
                    }
                }
                CompoundCommand::ForClause(f) => {
                    let values = match &f.values {
                        Some(words) => self.expand_words(words).await?,
                        None => self.positional.clone(),
                    };
                    let mut last = 0;
                    for v in values {
                        self.set_var(&f.variable_name, v);
                        match self.run_list(&f.body.list).await {
                            Ok(c) => last = c,
                            Err(Ctl::Break(n)) if n <= 1 => break,
                            Err(Ctl::Break(n)) => return Err(Ctl::Break(n - 1)),
                            Err(Ctl::Continue(n)) if n <= 1 => continue,
                            Err(Ctl::Continue(n)) => return Err(Ctl::Continue(n - 1)),
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(last)
                }
                CompoundCommand::CaseClause(c) => {
                    let value = self.expand_string(&c.value.value).await?;
                    let mut last = 0;
                    let mut fallthrough = false;
                    for item in &c.cases {
                        let mut hit = fallthrough;
                        if !hit {
                            for pat in &item.patterns {
                                let pat = self.expand_pattern(&pat.value).await?;
                                if glob::matches(&pat, &value) {
                                    hit = true;
                                    break;
                                }
                            }
                        }
                        if !hit {
                            continue;
                        }
                        if let Some(cmd) = &item.cmd {
                            last = self.run_list(cmd).await?;
                        }
                        match item.post_action {
                            ast::CaseItemPostAction::ExitCase => return Ok(last),
                            ast::CaseItemPostAction::UnconditionallyExecuteNextCaseItem => {
                                fallthrough = true
                            }
                            ast::CaseItemPostAction::ContinueEvaluatingCases => fallthrough = false,
                        }
                    }
                    Ok(last)
                }
                CompoundCommand::IfClause(ic) => {
                    if self.run_condition(&ic.condition).await? == 0 {
                        return self.run_list(&ic.then).await;
                    }
                    for e in ic.elses.iter().flatten() {
                        match &e.condition {
                            Some(c) => {
                                if self.run_condition(c).await? == 0 {
                                    return self.run_list(&e.body).await;
                                }
                            }
                            None => return self.run_list(&e.body).await,
                        }
                    }
                    Ok(0)
                }
                CompoundCommand::WhileClause(w) | CompoundCommand::UntilClause(w) => {
                    let until = matches!(cc, CompoundCommand::UntilClause(_));
                    let mut last = 0;
                    loop {
                        self.check_signal()?;
                        let c = self.run_condition(&w.0).await?;
                        if (c == 0) == until {
                            break;
                        }
                        match self.run_list(&w.1.list).await {
                            Ok(c) => last = c,
                            Err(Ctl::Break(n)) if n <= 1 => break,
                            Err(Ctl::Break(n)) => return Err(Ctl::Break(n - 1)),
                            Err(Ctl::Continue(n)) if n <= 1 => continue,
                            Err(Ctl::Continue(n)) => return Err(Ctl::Continue(n - 1)),
                            Err(e) => return Err(e),
                        }
                        // A loop whose body does not wait must still let other processes run.
                        crate::runtime::process::yield_now().await;
                    }
                    Ok(last)
                }
                CompoundCommand::Arithmetic(a) => {
                    let v = self.eval_arith(&a.expr.value).await?;
                    Ok(i32::from(v == 0))
                }
                CompoundCommand::ArithmeticForClause(f) => {
                    if let Some(init) = &f.initializer {
                        self.eval_arith(&init.value).await?;
                    }
                    let mut last = 0;
                    loop {
                        if let Some(c) = &f.condition
                            && self.eval_arith(&c.value).await? == 0
                        {
                            break;
                        }
                        match self.run_list(&f.body.list).await {
                            Ok(c) => last = c,
                            Err(Ctl::Break(_)) => break,
                            Err(Ctl::Continue(_)) => {}
                            Err(e) => return Err(e),
                        }
                        if let Some(u) = &f.updater {
                            self.eval_arith(&u.value).await?;
                        }
                        crate::runtime::process::yield_now().await;
                    }
                    Ok(last)
                }
                CompoundCommand::Coprocess(_) => {
                    self.io
                        .stderr
                        .print(&format!("{}: coproc: not supported\n", self.arg0));
                    Ok(2)
                }
            }
        })
    }

    async fn run_condition(&mut self, list: &CompoundList) -> R {
        self.cond += 1;
        let r = self.run_list(list).await;
        self.cond -= 1;
        r
    }
}
