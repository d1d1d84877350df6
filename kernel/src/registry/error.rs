//! The errors the verbs return, each carrying the HTTP code and the
//! Kubernetes `reason` a client expects.

use crate::object::ResourceType;

/// A failed request, as Kubernetes classifies it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400: the request itself is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 404: no such object.
    #[error("{resource} \"{name}\" not found")]
    NotFound {
        /// `plural.group` of the kind.
        resource: String,
        /// The name asked for.
        name: String,
    },
    /// 404: no such path or resource type.
    #[error("{0}")]
    NoSuchResource(String),
    /// 409: a create found the name taken.
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists {
        /// `plural.group` of the kind.
        resource: String,
        /// The name.
        name: String,
    },
    /// 409: a precondition (resourceVersion, uid) did not hold.
    #[error("Operation cannot be fulfilled on {resource} \"{name}\": {message}")]
    Conflict {
        /// `plural.group` of the kind.
        resource: String,
        /// The name.
        name: String,
        /// Why.
        message: String,
    },
    /// 422: the object breaks a rule; `field` names where.
    #[error("{kind} \"{name}\" is invalid: {field}: {message}")]
    Invalid {
        /// The kind.
        kind: String,
        /// The name (may be empty).
        name: String,
        /// The field path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// 403: a rule forbids it.
    #[error("{0}")]
    Forbidden(String),
    /// 405: the verb is not served here.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 406: none of the accepted representations can be produced.
    #[error("{0}")]
    NotAcceptable(String),
    /// 410: the resource version asked for is older than the history kept.
    #[error("{0}")]
    Expired(String),
    /// 413: the body is over the limit.
    #[error("{0}")]
    TooLarge(String),
    /// 415: the body's content type is not one the verb takes.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 500: something broke inside.
    #[error("{0}")]
    Internal(String),
    /// 503: the store cannot take the request now.
    #[error("{0}")]
    Unavailable(String),
    /// 504: waited too long (a resource version from the future).
    #[error("{0}")]
    Timeout(String),
    /// Admission denied the write, or failed deciding it: the code and reason come from
    /// the plugin's denial (403 Forbidden, 422 Invalid, 404 NotFound) or its failure.
    #[error("{message}")]
    Admission {
        /// The HTTP status code.
        code: u16,
        /// The Kubernetes `reason`.
        reason: String,
        /// The whole message, naming the plugin.
        message: String,
    },
}

/// A `Result` with [`ApiError`].
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl ApiError {
    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound { .. } | ApiError::NoSuchResource(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::NotAcceptable(_) => 406,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } => 409,
            ApiError::Expired(_) => 410,
            ApiError::TooLarge(_) => 413,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::Invalid { .. } => 422,
            ApiError::Internal(_) => 500,
            ApiError::Unavailable(_) => 503,
            ApiError::Timeout(_) => 504,
            ApiError::Admission { code, .. } => *code,
        }
    }

    /// The Kubernetes `reason`.
    pub fn reason(&self) -> &str {
        match self {
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound { .. } | ApiError::NoSuchResource(_) => "NotFound",
            ApiError::MethodNotAllowed(_) => "MethodNotAllowed",
            ApiError::NotAcceptable(_) => "NotAcceptable",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Expired(_) => "Expired",
            ApiError::TooLarge(_) => "RequestEntityTooLarge",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::Internal(_) => "InternalError",
            ApiError::Unavailable(_) => "ServiceUnavailable",
            ApiError::Timeout(_) => "Timeout",
            ApiError::Admission { reason, .. } => reason,
        }
    }

    /// A 404 for an object of `rt`.
    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        ApiError::NotFound {
            resource: rt.qualified_plural(),
            name: name.to_string(),
        }
    }

    /// A 409 for a precondition on an object of `rt`.
    pub fn conflict(rt: &ResourceType, name: &str, message: impl Into<String>) -> Self {
        ApiError::Conflict {
            resource: rt.qualified_plural(),
            name: name.to_string(),
            message: message.into(),
        }
    }

    /// A 422 at `field` of an object of `rt`.
    pub fn invalid(rt: &ResourceType, name: &str, field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            kind: rt.kind.to_string(),
            name: name.to_string(),
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable(m) => ApiError::Unavailable(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}
