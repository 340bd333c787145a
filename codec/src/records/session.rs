//! Authentication and identity records: auth (xid -4), sasl, whoAmI.

use crate::record;
use bytes::Bytes;

record! {
    /// auth (100), sent with xid -4. `auth_type` is ignored by servers.
    pub struct AuthPacket {
        pub auth_type: i32,
        pub scheme: String,
        pub auth: Bytes,
    }
}

record! {
    /// sasl (102) request.
    pub struct SaslRequest {
        pub token: Bytes,
    }
}

record! {
    /// sasl (102) reply.
    pub struct SaslResponse {
        pub token: Bytes,
    }
}

record! {
    /// One identity of the caller, as whoAmI reports it.
    pub struct ClientInfo {
        pub auth_scheme: String,
        pub user: String,
    }
}

record! {
    /// Reply to whoAmI (107).
    pub struct WhoAmIResponse {
        pub client_info: Vec<ClientInfo>,
    }
}
