//! The query parameters the verbs read.

use std::collections::HashMap;

use crate::object::selector::{FieldSelector, LabelSelector};
use crate::registry::{ApiError, ListOptions};

/// Decoded query parameters (the last value of a repeated key wins).
#[derive(Debug, Clone, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// A parameter's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// A boolean parameter (`true`/`1`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    /// An unsigned number parameter.
    pub fn number(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::BadRequest(format!("invalid {key} {v:?}: expected a whole number"))
                })
            })
            .transpose()
    }

    /// `dryRun=All`.
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::BadRequest(format!(
                "invalid dryRun {other:?}: the only value is All"
            ))),
        }
    }

    /// The list options: selectors, limit and continue.
    pub fn list_options(&self) -> Result<ListOptions, ApiError> {
        let labels = LabelSelector::parse(self.get("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::BadRequest(format!("unable to parse requirement: {e}")))?;
        let fields = FieldSelector::parse(self.get("fieldSelector").unwrap_or(""))
            .map_err(|e| ApiError::BadRequest(format!("invalid field selector: {e}")))?;
        Ok(ListOptions {
            labels,
            fields,
            limit: self.number("limit")?.map(|l| l as usize),
            continue_token: self
                .get("continue")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        })
    }
}
