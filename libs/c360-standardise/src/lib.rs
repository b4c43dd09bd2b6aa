//! Standardisation of raw client-record fields before identity matching, for
//! francophone West-African banks and microfinance institutions (Côte d'Ivoire,
//! Senegal, Mali, Burkina Faso).
//!
//! Every function is pure, allocation-light and regex-free on the hot path: they run
//! on about a million records per batch.
//!
//! * [`text`] module: [`text::fold`] (accents removed, lowercase, apostrophes glued:
//!   `N'Guessan` → `nguessan`, other punctuation → space) and [`text::tokens`].
//! * [`names`] module: [`names::phonetic`] key for one token, [`names::NameVariants`]
//!   spelling-variant table (built-in and CSV), a given-name/surname lexicon
//!   ([`names::role`], [`names::looks_swapped`]) and [`names::split_full_name`]
//!   (ALL-CAPS words are surnames, `Surname, Given` with a comma, else the lexicon).
//!   The phonetic key keeps a vowel skeleton and applies French/West-African rewrites:
//!   `ou`/`w`→`u`, `y`→`i`, `ei`/`ey`→`ai`, `ph`→`f`, `ch`/`sh`→`x`, `c`/`q`/`ck`→`k`
//!   (`c`→`s` before e/i/y), `gu`+e/i→`g`, `dj`→`j`, `z`→`s`, silent `h`, collapsed
//!   double letters, silent French endings (final `e`; final `s`/`t`/`x`/`d` after a
//!   vowel). `Kouassi`=`Kouassy`, `Ouattara`=`Watara`, `Cissé`=`Sisse`, `Touré`=`Tour`,
//!   but `Konan`≠`Koné`, `Traoré`≠`Touré`.
//! * [`phone`] module: [`phone::PhoneNormaliser`] to E.164. CI/SN/ML/BF use a digits-only fast
//!   path; other countries go through the `phonenumber` crate. Legacy 8-digit Ivorian
//!   numbers are migrated to the 10-digit plan of 31 January 2021 (ARTCI): mobiles get
//!   `01` (second digit 0–3, Moov), `05` (4–6, MTN) or `07` (7–9, Orange); fixed lines
//!   (first digit 2 or 3) get `21` (third digit 8), `25` (third digit 0) or `27`.
//! * [`date`] module: [`date::parse_date`] into a [`date::PartialDate`] (day-first by default,
//!   US order detected when unambiguous, partial and approximate dates, 2-digit years
//!   pivoting at [`date::PIVOT`]).
//! * [`email`] module: [`email::normalise_email`].
//! * [`id`] module: [`id::normalise_national_id`] (separators and country prefixes removed).
//! * [`sex`] module: [`sex::parse_sex`].
//! * [`places`] module: [`places::place`], a locality's place and city
//!   (abbreviations and communes: `Abj` → Abidjan, `Cocody` in Abidjan), and
//!   [`places::country_code`].
//! * [`value`] module: the one rule for each kind of value (date of birth, phone under
//!   [`phone::Phones`], e-mail, national ID): its standard form, or why it is
//!   [`value::Unusable`]. Matching, the resolver's golden record and flags, and the
//!   channels' contact points all use it.
//! * [`channel`] module: the names of the contact channels.
//! * [`text::strip_bidi_controls`]: names lose bidirectional control characters.
//!
//! Errors and `Debug` output never contain the personal data being standardised: they
//! say what is wrong, not what the value was.

pub mod channel;
pub mod date;
pub mod email;
pub mod id;
pub mod mask;
pub mod names;
pub mod phone;
pub mod places;
pub mod sex;
pub mod text;
pub mod value;
