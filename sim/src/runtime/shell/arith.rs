//! Arithmetic expansion (`$((...))`, `((...))`) and `[[ ... ]]` tests.

use brush_parser::ast::{
    ArithmeticExpr, ArithmeticTarget, BinaryOperator, BinaryPredicate, ExtendedTestExpr,
    UnaryAssignmentOperator, UnaryOperator,
};
use futures::future::BoxFuture;

use super::{Ctl, Shell, glob};
use crate::runtime::programs::system;

impl Shell {
    /// Expands and evaluates an arithmetic expression.
    pub(crate) async fn eval_arith(&mut self, text: &str) -> Result<i64, Ctl> {
        let expanded = self.expand_heredoc(text).await?;
        let trimmed = expanded.trim();
        if trimmed.is_empty() {
            return Ok(0);
        }
        let expr = brush_parser::arithmetic::parse(trimmed).map_err(|_| {
            self.io.stderr.print(&format!(
                "{}: arithmetic syntax error: {trimmed}\n",
                self.arg0
            ));
            Ctl::Exit(2)
        })?;
        self.arith(&expr, 0)
    }

    fn var_num(&mut self, name: &str, depth: u32) -> Result<i64, Ctl> {
        let v = self.vars.get(name).cloned().unwrap_or_default();
        let v = v.trim();
        if v.is_empty() {
            return Ok(0);
        }
        if let Ok(n) = v.parse() {
            return Ok(n);
        }
        if depth > 8 {
            return Err(Ctl::Exit(2));
        }
        match brush_parser::arithmetic::parse(v) {
            Ok(e) => self.arith(&e, depth + 1),
            Err(_) => Ok(0),
        }
    }

    fn assign_num(&mut self, t: &ArithmeticTarget, v: i64) {
        let name = match t {
            ArithmeticTarget::Variable(n) => n,
            ArithmeticTarget::ArrayElement(n, _) => n,
        };
        self.set_var(name, v.to_string());
    }

    fn target_name(t: &ArithmeticTarget) -> &str {
        match t {
            ArithmeticTarget::Variable(n) => n,
            ArithmeticTarget::ArrayElement(n, _) => n,
        }
    }

    fn arith(&mut self, e: &ArithmeticExpr, depth: u32) -> Result<i64, Ctl> {
        Ok(match e {
            ArithmeticExpr::Literal(n) => *n,
            ArithmeticExpr::Reference(t) => self.var_num(Self::target_name(t), depth)?,
            ArithmeticExpr::UnaryOp(op, a) => {
                let a = self.arith(a, depth)?;
                match op {
                    UnaryOperator::UnaryPlus => a,
                    UnaryOperator::UnaryMinus => a.wrapping_neg(),
                    UnaryOperator::BitwiseNot => !a,
                    UnaryOperator::LogicalNot => i64::from(a == 0),
                }
            }
            ArithmeticExpr::BinaryOp(op, a, b) => {
                if matches!(op, BinaryOperator::LogicalAnd) {
                    let a = self.arith(a, depth)?;
                    return Ok(i64::from(a != 0 && self.arith(b, depth)? != 0));
                }
                if matches!(op, BinaryOperator::LogicalOr) {
                    let a = self.arith(a, depth)?;
                    return Ok(i64::from(a != 0 || self.arith(b, depth)? != 0));
                }
                let a = self.arith(a, depth)?;
                let b = self.arith(b, depth)?;
                self.binop(op, a, b)?
            }
            ArithmeticExpr::Conditional(c, a, b) => {
                if self.arith(c, depth)? != 0 {
                    self.arith(a, depth)?
                } else {
                    self.arith(b, depth)?
                }
            }
            ArithmeticExpr::Assignment(t, v) => {
                let v = self.arith(v, depth)?;
                self.assign_num(t, v);
                v
            }
            ArithmeticExpr::BinaryAssignment(op, t, v) => {
                let cur = self.var_num(Self::target_name(t), depth)?;
                let v = self.arith(v, depth)?;
                let r = self.binop(op, cur, v)?;
                self.assign_num(t, r);
                r
            }
            ArithmeticExpr::UnaryAssignment(op, t) => {
                let cur = self.var_num(Self::target_name(t), depth)?;
                let (new, ret) = match op {
                    UnaryAssignmentOperator::PrefixIncrement => (cur + 1, cur + 1),
                    UnaryAssignmentOperator::PrefixDecrement => (cur - 1, cur - 1),
                    UnaryAssignmentOperator::PostfixIncrement => (cur + 1, cur),
                    UnaryAssignmentOperator::PostfixDecrement => (cur - 1, cur),
                };
                self.assign_num(t, new);
                ret
            }
        })
    }

    fn binop(&self, op: &BinaryOperator, a: i64, b: i64) -> Result<i64, Ctl> {
        use BinaryOperator as B;
        Ok(match op {
            B::Power => a.wrapping_pow(u32::try_from(b).unwrap_or(0)),
            B::Multiply => a.wrapping_mul(b),
            B::Divide | B::Modulo => {
                if b == 0 {
                    self.io
                        .stderr
                        .print(&format!("{}: arithmetic: division by zero\n", self.arg0));
                    return Err(Ctl::Exit(2));
                }
                if matches!(op, B::Divide) {
                    a.wrapping_div(b)
                } else {
                    a.wrapping_rem(b)
                }
            }
            B::Comma => b,
            B::Add => a.wrapping_add(b),
            B::Subtract => a.wrapping_sub(b),
            B::ShiftLeft => a.wrapping_shl(u32::try_from(b).unwrap_or(0)),
            B::ShiftRight => a.wrapping_shr(u32::try_from(b).unwrap_or(0)),
            B::LessThan => i64::from(a < b),
            B::LessThanOrEqualTo => i64::from(a <= b),
            B::GreaterThan => i64::from(a > b),
            B::GreaterThanOrEqualTo => i64::from(a >= b),
            B::Equals => i64::from(a == b),
            B::NotEquals => i64::from(a != b),
            B::BitwiseAnd => a & b,
            B::BitwiseXor => a ^ b,
            B::BitwiseOr => a | b,
            B::LogicalAnd => i64::from(a != 0 && b != 0),
            B::LogicalOr => i64::from(a != 0 || b != 0),
        })
    }

    /// Evaluates a `[[ ... ]]` expression.
    pub(crate) fn eval_extended_test<'a>(
        &'a mut self,
        e: &'a ExtendedTestExpr,
    ) -> BoxFuture<'a, Result<bool, Ctl>> {
        Box::pin(async move {
            Ok(match e {
                ExtendedTestExpr::And(a, b) => {
                    self.eval_extended_test(a).await? && self.eval_extended_test(b).await?
                }
                ExtendedTestExpr::Or(a, b) => {
                    self.eval_extended_test(a).await? || self.eval_extended_test(b).await?
                }
                ExtendedTestExpr::Not(a) => !self.eval_extended_test(a).await?,
                ExtendedTestExpr::Parenthesized(a) => self.eval_extended_test(a).await?,
                ExtendedTestExpr::UnaryTest(op, w) => {
                    let s = self.expand_string(&w.value).await?;
                    let vars = &self.vars;
                    system::unary(&self.sys.fs, &self.cwd, &|n| vars.contains_key(n), op, &s)
                }
                ExtendedTestExpr::BinaryTest(op, a, b) => {
                    let left = self.expand_string(&a.value).await?;
                    match op {
                        BinaryPredicate::StringExactlyMatchesPattern => {
                            let pat = self.expand_pattern(&b.value).await?;
                            glob::matches(&pat, &left)
                        }
                        BinaryPredicate::StringDoesNotExactlyMatchPattern => {
                            let pat = self.expand_pattern(&b.value).await?;
                            !glob::matches(&pat, &left)
                        }
                        BinaryPredicate::StringMatchesRegex => {
                            let re = self.expand_string(&b.value).await?;
                            regex::Regex::new(&re).is_ok_and(|r| r.is_match(&left))
                        }
                        other => {
                            let right = self.expand_string(&b.value).await?;
                            match system::binary(other, &left, &right) {
                                Ok(v) => v,
                                Err(msg) => {
                                    self.io.stderr.print(&format!("{}: {msg}\n", self.arg0));
                                    return Err(Ctl::Exit(2));
                                }
                            }
                        }
                    }
                }
            })
        })
    }
}
