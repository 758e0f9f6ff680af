//! ROCmForge's engine core: GGUF files, the tokenizer and chat templates from
//! their metadata, sampling, and the generation loop. It knows nothing of
//! devices: models run through `rocmforge_backend_api::Backend`, and the loop
//! sees them only as a [`model::CausalLm`].

pub mod chat_template;
pub mod generate;
pub mod gguf;
pub mod model;
pub mod sampling;
pub mod tokenizer;
pub mod tokenizer_gguf;
