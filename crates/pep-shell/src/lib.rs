//! pep-shell: the SSH-served restricted shell, consent, sessions and transcripts.

pub mod lang;
