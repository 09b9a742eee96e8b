//! The OpenAPI document's frame; the paths and schemas come from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorCode};
use crate::views::{EmbeddingProgress, EmbeddingsSubmitted};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tavdun relayer",
        description = "HTTP gateway to the Tavdun market for clients that do not speak Cosmos: \
            a content-addressed blob store, job submission paid from the relayer's account, \
            and job results with their verification state. Every error is \
            `{\"error\": {\"code\", \"message\"}}` with a stable `code`."
    ),
    modifiers(&BearerKey),
    // The embeddings stream's event payloads, which no response body names.
    components(schemas(ErrorBody, ErrorCode, EmbeddingsSubmitted, EmbeddingProgress)),
    tags(
        (name = "blobs", description = "Content-addressed storage: a blob's name is the sha256 of its bytes"),
        (name = "jobs", description = "Inference jobs on the market"),
        (name = "embeddings", description = "OpenAI-shaped embeddings: one verifiable job per text"),
        (name = "models", description = "Registered models"),
        (name = "health", description = "Liveness"),
    )
)]
pub struct ApiDoc;

/// `Authorization: Bearer <API key>`, which uploads and job submissions need.
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
