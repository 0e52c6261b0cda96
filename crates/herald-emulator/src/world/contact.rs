//! External contacts and how guests map onto them.

/// An external contact.
#[derive(Debug, Clone)]
pub struct Contact {
    /// External contact id.
    pub id: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
}

impl Contact {
    /// "First Last", trimmed.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name).trim().to_string()
    }
}
