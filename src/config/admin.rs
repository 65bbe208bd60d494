//! The console's people: `AMENDS_ADMIN_USERS` read into names with password hashes.

/// A person who signs in to the console with their own name and password.
#[derive(Clone)]
pub struct AdminUser {
    /// Their name, recorded with what they change.
    pub name: String,
    /// Their password's Argon2 hash, a PHC string (`amends admin-user NAME` makes one).
    pub password_hash: String,
}

impl std::fmt::Debug for AdminUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminUser")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl AdminUser {
    /// Refuses a name that is empty, longer than 64 characters, or holds control characters.
    pub fn check_name(name: &str) -> Result<(), String> {
        if name.trim().is_empty()
            || name.chars().count() > 64
            || name.chars().any(char::is_control)
            || name.contains([':', ';'])
        {
            return Err(format!(
                "{name:?} is not a name of 1 to 64 characters without ':' or ';'"
            ));
        }
        Ok(())
    }

    /// Reads `name:hash` entries separated by `;` or new lines (PHC strings hold commas).
    pub fn parse_list(text: &str) -> Result<Vec<AdminUser>, String> {
        let mut users: Vec<AdminUser> = Vec::new();
        for entry in text
            .split([';', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (name, hash) = entry.split_once(':').ok_or_else(|| {
                "each entry is name:hash (make one with `amends admin-user NAME`)".to_owned()
            })?;
            let name = name.trim();
            AdminUser::check_name(name)?;
            argon2::PasswordHash::new(hash.trim()).map_err(|e| {
                format!("the password hash of {name:?} is not a PHC string ({e}): make one with `amends admin-user NAME`")
            })?;
            if users.iter().any(|u| u.name.eq_ignore_ascii_case(name)) {
                return Err(format!("{name:?} is listed twice"));
            }
            users.push(AdminUser {
                name: name.to_owned(),
                password_hash: hash.trim().to_owned(),
            });
        }
        Ok(users)
    }
}
