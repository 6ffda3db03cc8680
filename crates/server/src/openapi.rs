//! OpenAPI description (filled in below).
