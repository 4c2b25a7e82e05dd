//! The condition language of the metric declarations.
//!
//! A [`Cond`] is a small expression over the dataset's columns: status words, integer
//! comparisons, booleans, string values and prefixes, list predicates, AND / OR. The same tree
//! is printed for people ([`fmt::Display`]), compiled to SQL ([`Cond::to_sql`]) and evaluated
//! over Arrow arrays a record batch at a time ([`Cond::eval`]), so the three cannot drift.
//!
//! Null handling is the same in Rust and SQL: a leaf over an integer, boolean, string or list
//! column is false when the value is null. Status columns are never null here: a row whose
//! status is null (check not run) or `error` is set aside by the metric before its conditions
//! are evaluated (see [`crate::metrics`]).

use std::collections::HashMap;
use std::fmt;

use arrow_array::{Array, BooleanArray, Int64Array, ListArray, StringArray};
use uptake_model::row::Kind;
use uptake_model::{Check, Status};

/// Integer comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `>=`
    Ge,
    /// `=`
    Eq,
    /// `<=`
    Le,
}

impl Cmp {
    fn symbol(self) -> &'static str {
        match self {
            Cmp::Ge => ">=",
            Cmp::Eq => "=",
            Cmp::Le => "<=",
        }
    }

    /// Applies the comparison.
    pub fn holds(self, left: i64, right: i64) -> bool {
        match self {
            Cmp::Ge => left >= right,
            Cmp::Eq => left == right,
            Cmp::Le => left <= right,
        }
    }
}

/// A condition over one row of the dataset.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// Every row.
    True,
    /// The check's status column holds one of the words.
    Status {
        /// The check (`<id>_status` is the column).
        check: Check,
        /// Accepted words.
        any_of: Vec<Status>,
    },
    /// An integer column compared with a constant; false when null.
    Int {
        /// Column name.
        column: &'static str,
        /// Operator.
        op: Cmp,
        /// Right-hand side.
        value: i64,
    },
    /// A boolean column is true; false when null.
    IsTrue {
        /// Column name.
        column: &'static str,
    },
    /// A string column equals one of the values; false when null.
    StrIn {
        /// Column name.
        column: &'static str,
        /// Accepted values (exact, case-sensitive).
        values: Vec<&'static str>,
    },
    /// A string column starts with one of the prefixes; false when null.
    StrPrefix {
        /// Column name.
        column: &'static str,
        /// Accepted prefixes (case-sensitive).
        prefixes: Vec<&'static str>,
    },
    /// A string-list column has at least one element and every element is one of the values.
    ListAllIn {
        /// Column name.
        column: &'static str,
        /// Accepted elements.
        values: Vec<&'static str>,
    },
    /// A list column has at least one element.
    ListNonEmpty {
        /// Column name.
        column: &'static str,
    },
    /// All of the conditions.
    And(Vec<Cond>),
    /// Any of the conditions.
    Or(Vec<Cond>),
}

/// `check_status in {words}`.
pub fn status(check: Check, any_of: &[Status]) -> Cond {
    Cond::Status {
        check,
        any_of: any_of.to_vec(),
    }
}

/// `column op value`.
pub fn int(column: &'static str, op: Cmp, value: i64) -> Cond {
    Cond::Int { column, op, value }
}

/// `column is true`.
pub fn is_true(column: &'static str) -> Cond {
    Cond::IsTrue { column }
}

/// `column in {values}`.
pub fn str_in(column: &'static str, values: &[&'static str]) -> Cond {
    Cond::StrIn {
        column,
        values: values.to_vec(),
    }
}

/// `column starts with one of {prefixes}`.
pub fn str_prefix(column: &'static str, prefixes: &[&'static str]) -> Cond {
    Cond::StrPrefix {
        column,
        prefixes: prefixes.to_vec(),
    }
}

/// `every element of column in {values}` (and the list is not empty).
pub fn list_all_in(column: &'static str, values: &[&'static str]) -> Cond {
    Cond::ListAllIn {
        column,
        values: values.to_vec(),
    }
}

/// `column is not empty`.
pub fn list_non_empty(column: &'static str) -> Cond {
    Cond::ListNonEmpty { column }
}

/// All of the conditions.
pub fn and(conds: Vec<Cond>) -> Cond {
    Cond::And(conds)
}

/// Any of the conditions.
pub fn or(conds: Vec<Cond>) -> Cond {
    Cond::Or(conds)
}

fn words(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn quoted(values: &[&str]) -> String {
    words(values.iter().map(|v| format!("\"{v}\"")))
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nested = |c: &Cond| match c {
            Cond::And(_) | Cond::Or(_) => format!("({c})"),
            _ => c.to_string(),
        };
        match self {
            Cond::True => f.write_str("every domain"),
            Cond::Status { check, any_of } => write!(
                f,
                "{} in {{{}}}",
                check.status_column(),
                words(any_of.iter().map(|s| s.as_str().to_string()))
            ),
            Cond::Int { column, op, value } => write!(f, "{column} {} {value}", op.symbol()),
            Cond::IsTrue { column } => write!(f, "{column} is true"),
            Cond::StrIn { column, values } => write!(f, "{column} in {{{}}}", quoted(values)),
            Cond::StrPrefix { column, prefixes } => {
                write!(f, "{column} starts with one of {{{}}}", quoted(prefixes))
            }
            Cond::ListAllIn { column, values } => write!(
                f,
                "{column} is not empty and every element in {{{}}}",
                quoted(values)
            ),
            Cond::ListNonEmpty { column } => write!(f, "{column} is not empty"),
            Cond::And(cs) => f.write_str(&cs.iter().map(nested).collect::<Vec<_>>().join(" and ")),
            Cond::Or(cs) => f.write_str(&cs.iter().map(nested).collect::<Vec<_>>().join(" or ")),
        }
    }
}

/// A SQL string literal.
pub fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn sql_list(values: &[&str]) -> String {
    words(values.iter().map(|v| sql_str(v)))
}

impl Cond {
    /// Every column the condition reads, with the kind it expects, in first-use order.
    pub fn columns(&self, out: &mut Vec<(String, Kind)>) {
        let mut push = |name: String, kind: Kind| {
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, kind));
            }
        };
        match self {
            Cond::True => {}
            Cond::Status { check, .. } => push(check.status_column(), Kind::Status),
            Cond::Int { column, .. } => push(column.to_string(), Kind::Int),
            Cond::IsTrue { column } => push(column.to_string(), Kind::Bool),
            Cond::StrIn { column, .. } | Cond::StrPrefix { column, .. } => {
                push(column.to_string(), Kind::Str)
            }
            Cond::ListAllIn { column, .. } | Cond::ListNonEmpty { column } => {
                push(column.to_string(), Kind::StrList)
            }
            Cond::And(cs) | Cond::Or(cs) => cs.iter().for_each(|c| c.columns(out)),
        }
    }

    /// The condition as a SQL boolean expression that is never null (DuckDB dialect; the list
    /// predicates are the only DuckDB-specific functions, see [`crate::sql`]).
    pub fn to_sql(&self) -> String {
        match self {
            Cond::True => "TRUE".into(),
            Cond::Status { check, any_of } => format!(
                "{} IN ({})",
                check.status_column(),
                words(any_of.iter().map(|s| sql_str(s.as_str())))
            ),
            Cond::Int { column, op, value } => {
                format!("COALESCE({column} {} {value}, FALSE)", op.symbol())
            }
            Cond::IsTrue { column } => format!("COALESCE({column}, FALSE)"),
            Cond::StrIn { column, values } => {
                format!("COALESCE({column} IN ({}), FALSE)", sql_list(values))
            }
            Cond::StrPrefix { column, prefixes } => format!(
                "COALESCE({}, FALSE)",
                prefixes
                    .iter()
                    .map(|p| format!(
                        "substr({column}, 1, {}) = {}",
                        p.chars().count(),
                        sql_str(p)
                    ))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            ),
            Cond::ListAllIn { column, values } => format!(
                "COALESCE(cardinality({column}) > 0 AND list_has_all([{}], {column}), FALSE)",
                sql_list(values)
            ),
            Cond::ListNonEmpty { column } => format!("COALESCE(cardinality({column}) > 0, FALSE)"),
            Cond::And(cs) => format!(
                "({})",
                cs.iter()
                    .map(Cond::to_sql)
                    .collect::<Vec<_>>()
                    .join(" AND ")
            ),
            Cond::Or(cs) => format!(
                "({})",
                cs.iter().map(Cond::to_sql).collect::<Vec<_>>().join(" OR ")
            ),
        }
    }

    /// Evaluates the condition for every row of a batch.
    ///
    /// The caller guarantees that `cols` holds every column of [`Cond::columns`] with the
    /// expected kind (the engine checks the file schema first); status leaves see codes from
    /// [`status_code`], and rows whose status is null or `error` are discarded by the caller.
    pub fn eval(&self, cols: &Columns<'_>, n: usize) -> Vec<bool> {
        match self {
            Cond::True => vec![true; n],
            Cond::Status { check, any_of } => {
                let mask = any_of.iter().fold(0u64, |m, s| m | 1 << status_code(*s));
                cols.status(&check.status_column())
                    .iter()
                    .map(|&c| mask >> c & 1 == 1)
                    .collect()
            }
            Cond::Int { column, op, value } => {
                let a = cols.int(column);
                (0..n)
                    .map(|i| a.is_valid(i) && op.holds(a.value(i), *value))
                    .collect()
            }
            Cond::IsTrue { column } => {
                let a = cols.bool(column);
                (0..n).map(|i| a.is_valid(i) && a.value(i)).collect()
            }
            Cond::StrIn { column, values } => {
                let a = cols.str(column);
                (0..n)
                    .map(|i| a.is_valid(i) && values.contains(&a.value(i)))
                    .collect()
            }
            Cond::StrPrefix { column, prefixes } => {
                let a = cols.str(column);
                (0..n)
                    .map(|i| a.is_valid(i) && prefixes.iter().any(|p| a.value(i).starts_with(p)))
                    .collect()
            }
            Cond::ListAllIn { column, values } => {
                let a = cols.list(column);
                let items = a
                    .values()
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("engine checked list<string>");
                let offsets = a.value_offsets();
                (0..n)
                    .map(|i| {
                        let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                        a.is_valid(i)
                            && end > start
                            && (start..end)
                                .all(|j| items.is_valid(j) && values.contains(&items.value(j)))
                    })
                    .collect()
            }
            Cond::ListNonEmpty { column } => {
                let a = cols.list(column);
                (0..n)
                    .map(|i| a.is_valid(i) && a.value_length(i) > 0)
                    .collect()
            }
            Cond::And(cs) => {
                let mut acc = vec![true; n];
                for c in cs {
                    for (a, b) in acc.iter_mut().zip(c.eval(cols, n)) {
                        *a &= b;
                    }
                }
                acc
            }
            Cond::Or(cs) => {
                let mut acc = vec![false; n];
                for c in cs {
                    for (a, b) in acc.iter_mut().zip(c.eval(cols, n)) {
                        *a |= b;
                    }
                }
                acc
            }
        }
    }
}

/// Code of a null status (check not run) in the per-row status codes.
pub const NULL_CODE: u8 = 63;

/// The per-row code of a status word: its position in [`Status::ALL`] (fits a `u64` mask).
pub fn status_code(s: Status) -> u8 {
    Status::ALL
        .iter()
        .position(|w| *w == s)
        .expect("every status is in Status::ALL") as u8
}

/// One column of a batch, decoded for evaluation.
#[derive(Debug)]
pub enum Column<'a> {
    /// Status codes ([`status_code`], [`NULL_CODE`] for null).
    Status(Vec<u8>),
    /// Integers.
    Int(&'a Int64Array),
    /// Booleans.
    Bool(&'a BooleanArray),
    /// Strings.
    Str(&'a StringArray),
    /// Lists of strings.
    List(&'a ListArray),
}

/// The columns of one batch by name.
#[derive(Debug, Default)]
pub struct Columns<'a> {
    /// Decoded columns.
    pub by_name: HashMap<String, Column<'a>>,
}

impl<'a> Columns<'a> {
    fn get(&self, name: &str) -> &Column<'a> {
        self.by_name
            .get(name)
            .unwrap_or_else(|| panic!("engine provides column {name}"))
    }

    /// Status codes of a status column.
    pub fn status(&self, name: &str) -> &[u8] {
        match self.get(name) {
            Column::Status(v) => v,
            other => panic!("{name} is not a status column: {other:?}"),
        }
    }

    fn int(&self, name: &str) -> &'a Int64Array {
        match self.get(name) {
            Column::Int(a) => a,
            other => panic!("{name} is not an int column: {other:?}"),
        }
    }

    fn bool(&self, name: &str) -> &'a BooleanArray {
        match self.get(name) {
            Column::Bool(a) => a,
            other => panic!("{name} is not a bool column: {other:?}"),
        }
    }

    fn str(&self, name: &str) -> &'a StringArray {
        match self.get(name) {
            Column::Str(a) => a,
            other => panic!("{name} is not a string column: {other:?}"),
        }
    }

    fn list(&self, name: &str) -> &'a ListArray {
        match self.get(name) {
            Column::List(a) => a,
            other => panic!("{name} is not a list column: {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{ListBuilder, StringBuilder};

    #[test]
    fn display_and_sql() {
        let c = and(vec![
            status(Check::Starttls, &[Status::All]),
            list_all_in("mx_tls_versions", &["TLSv1.2", "TLSv1.3"]),
            or(vec![
                int("hsts_max_age", Cmp::Ge, 31536000),
                str_prefix("certificate_key", &["EC ", "it's"]),
            ]),
        ]);
        assert_eq!(
            c.to_string(),
            "starttls_status in {all} and mx_tls_versions is not empty and every element in \
             {\"TLSv1.2\", \"TLSv1.3\"} and (hsts_max_age >= 31536000 or certificate_key starts \
             with one of {\"EC \", \"it's\"})"
        );
        assert_eq!(
            c.to_sql(),
            "(starttls_status IN ('all') AND COALESCE(cardinality(mx_tls_versions) > 0 AND \
             list_has_all(['TLSv1.2', 'TLSv1.3'], mx_tls_versions), FALSE) AND \
             (COALESCE(hsts_max_age >= 31536000, FALSE) OR COALESCE(substr(certificate_key, 1, 3) \
             = 'EC ' OR substr(certificate_key, 1, 4) = 'it''s', FALSE)))"
        );
        let mut cols = vec![];
        c.columns(&mut cols);
        let names: Vec<_> = cols.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "starttls_status",
                "mx_tls_versions",
                "hsts_max_age",
                "certificate_key"
            ]
        );
    }

    #[test]
    fn eval_nulls_are_false_and_lists_need_an_element() {
        let ints = Int64Array::from(vec![Some(31536000), Some(10), None, Some(40000000)]);
        let strs = StringArray::from(vec![
            Some("EC P-256"),
            Some("RSA 1024"),
            None,
            Some("RSA 2048"),
        ]);
        let bools = BooleanArray::from(vec![Some(true), Some(false), None, Some(true)]);
        let mut lb = ListBuilder::new(StringBuilder::new());
        for row in [
            &["TLSv1.2", "TLSv1.3"][..],
            &["TLSv1.2", ""][..],
            &[][..],
            &["TLSv1.3"][..],
        ] {
            for v in row {
                lb.values().append_value(v);
            }
            lb.append(true);
        }
        let lists = lb.finish();
        let mut cols = Columns::default();
        cols.by_name.insert(
            "dnssec_status".into(),
            Column::Status(vec![
                status_code(Status::Secure),
                status_code(Status::Insecure),
                status_code(Status::Bogus),
                status_code(Status::Secure),
            ]),
        );
        cols.by_name
            .insert("hsts_max_age".into(), Column::Int(&ints));
        cols.by_name
            .insert("certificate_key".into(), Column::Str(&strs));
        cols.by_name
            .insert("hsts_preload".into(), Column::Bool(&bools));
        cols.by_name
            .insert("mx_tls_versions".into(), Column::List(&lists));
        let ev = |c: Cond| c.eval(&cols, 4);
        assert_eq!(
            ev(status(Check::Dnssec, &[Status::Secure, Status::Bogus])),
            [true, false, true, true]
        );
        assert_eq!(
            ev(int("hsts_max_age", Cmp::Ge, 31536000)),
            [true, false, false, true]
        );
        assert_eq!(
            ev(int("hsts_max_age", Cmp::Le, 10)),
            [false, true, false, false]
        );
        assert_eq!(
            ev(int("hsts_max_age", Cmp::Eq, 10)),
            [false, true, false, false]
        );
        assert_eq!(ev(is_true("hsts_preload")), [true, false, false, true]);
        assert_eq!(
            ev(str_in("certificate_key", &["RSA 2048"])),
            [false, false, false, true]
        );
        assert_eq!(
            ev(str_prefix("certificate_key", &["EC ", "RSA 2"])),
            [true, false, false, true]
        );
        assert_eq!(
            ev(list_all_in("mx_tls_versions", &["TLSv1.2", "TLSv1.3"])),
            [true, false, false, true]
        );
        assert_eq!(
            ev(list_non_empty("mx_tls_versions")),
            [true, true, false, true]
        );
        assert_eq!(
            ev(and(vec![
                is_true("hsts_preload"),
                str_in("certificate_key", &["EC P-256"])
            ])),
            [true, false, false, false]
        );
        assert_eq!(
            ev(or(vec![
                is_true("hsts_preload"),
                str_in("certificate_key", &["RSA 1024"])
            ])),
            [true, true, false, true]
        );
        assert_eq!(ev(Cond::True), [true; 4]);
    }

    #[test]
    fn status_codes_fit_a_mask() {
        assert!(Status::ALL.len() < NULL_CODE as usize);
        assert_eq!(status_code(Status::ALL[3]), 3);
    }
}
