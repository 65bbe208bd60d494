//! Coupon and gift-certificate codes: random, from an alphabet a person cannot misread.

use rand::Rng;

/// Letters and digits without the look-alikes 0/O and 1/I.
pub const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// How codes look: a prefix and a number of random characters.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeFormat {
    /// Printed before the random part, e.g. `NW-`.
    pub prefix: String,
    /// Random characters after the prefix.
    pub length: usize,
}

impl CodeFormat {
    /// Shortest random part allowed: 32^6 is about a billion codes.
    pub const MIN_LENGTH: usize = 6;

    /// A new random code.
    pub fn generate(&self, rng: &mut impl Rng) -> String {
        let mut code = String::with_capacity(self.prefix.len() + self.length);
        code.push_str(&self.prefix);
        for _ in 0..self.length {
            let i = rng.random_range(0..ALPHABET.len());
            code.push(char::from(ALPHABET[i]));
        }
        code
    }

    /// Checks the prefix (letters, digits and `-` only, at most 16) and the length.
    pub fn validate(&self) -> Result<(), String> {
        if self.prefix.len() > 16
            || !self
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(format!(
                "code prefix {:?} must be at most 16 letters, digits or '-'",
                self.prefix
            ));
        }
        if !(Self::MIN_LENGTH..=32).contains(&self.length) {
            return Err(format!(
                "code length must be {} to 32, not {}",
                Self::MIN_LENGTH,
                self.length
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_are_validated() {
        let ok = CodeFormat {
            prefix: "NW-".into(),
            length: 8,
        };
        assert!(ok.validate().is_ok());
        let short = CodeFormat {
            length: 3,
            ..ok.clone()
        };
        assert!(short.validate().is_err());
        let odd = CodeFormat {
            prefix: "a b".into(),
            ..ok
        };
        assert!(odd.validate().is_err());
    }

    proptest! {
        #[test]
        fn codes_have_the_prefix_length_and_no_look_alikes(seed: u64, length in 6usize..32) {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let format = CodeFormat { prefix: "NW-".into(), length };
            let code = format.generate(&mut rng);
            prop_assert!(code.starts_with("NW-"));
            let random = &code[3..];
            prop_assert_eq!(random.len(), length);
            prop_assert!(random.chars().all(|c| !"0O1I".contains(c)));
            prop_assert!(random.chars().all(|c| ALPHABET.contains(&(c as u8))));
        }
    }
}
