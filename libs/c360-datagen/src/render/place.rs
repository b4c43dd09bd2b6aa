//! Where the person lives, as the source system writes it: the address
//! (a landmark, a detail), the locality and region, and an agent's short
//! forms.

use super::*;

fn detail_text<R: Rng + ?Sized>(rng: &mut R, detail: Detail, landmark: &str) -> String {
    // The written variant is drawn first, then only that one is formatted.
    let v = pick(rng, &[(0u8, 0.6), (1, 0.2), (2, 0.2)]);
    match (detail, v) {
        (Detail::Ilot(n), 0) => format!("Ilot {n}"),
        (Detail::Ilot(n), 1) => format!("Ilot N°{n}"),
        (Detail::Ilot(n), _) => format!("Il. {n}"),
        (Detail::Lot(n), 2) => format!("Lot N° {n}"),
        (Detail::Lot(n), _) => format!("Lot {n}"),
        (Detail::Villa(n), 1) => format!("V. {n}"),
        (Detail::Villa(n), _) => format!("Villa {n}"),
        (Detail::RueXRue(a, b), 0) => format!("Rue {a} x {b}"),
        (Detail::RueXRue(a, b), 1) => format!("Rue {a} X {b}"),
        (Detail::RueXRue(a, b), _) => format!("angle rue {a} et rue {b}"),
        (Detail::RuePorte(a, b), 0) => format!("Rue {a} Porte {b}"),
        (Detail::RuePorte(a, b), 1) => format!("R.{a} P.{b}"),
        (Detail::RuePorte(a, b), _) => format!("rue {a}, porte {b}"),
        (Detail::Secteur(n), 1) => format!("Sect. {n}"),
        (Detail::Secteur(n), _) => format!("Secteur {n}"),
        (Detail::Landmark, _) => landmark.to_string(),
    }
}

fn render_address<R: Rng + ?Sized>(rng: &mut R, home: &Home) -> String {
    let landmark = if yes(rng, 0.8) {
        LANDMARKS[home.landmark]
    } else {
        LANDMARKS[home.alt_landmark]
    };
    let quarter = if yes(rng, 0.65) {
        home.quarter.name
    } else {
        choose(rng, home.quarter.variants)
    };
    let place = if home.quarter.commune.is_empty() {
        quarter.to_string()
    } else if home.quarter.name == "Centre" || yes(rng, 0.1) {
        home.quarter.commune.to_string()
    } else {
        format!("{} {quarter}", home.quarter.commune)
    };
    if yes(rng, 0.12) {
        // Only the neighbourhood.
        return place;
    }
    let detail = detail_text(rng, home.detail, landmark);
    let mut out = match (home.country, home.detail) {
        (Country::CI, Detail::Lot(_)) => format!("{detail} {place}"),
        (Country::SN, _) => format!("{place} {detail}"),
        (Country::ML, _) if yes(rng, 0.4) => format!("Quartier {place} {detail}"),
        (Country::BF, Detail::Secteur(_)) => format!("{detail}, {place}"),
        _ => format!("{place}, {detail}"),
    };
    if home.detail != Detail::Landmark && yes(rng, 0.15) {
        out.push_str(", ");
        out.push_str(landmark);
    }
    out
}

pub(super) fn render_place<R: Rng + ?Sized>(
    rng: &mut R,
    home: &Home,
    source: Source,
    p: &Profile,
    r: &mut Record,
) {
    let city = home.city;
    if yes(rng, p.address) {
        r.address = render_address(rng, home);
        if let Some((bp, zone)) = home.bp
            && matches!(source, Source::CoreBanking | Source::LegacyMfi)
            && yes(rng, 0.5)
        {
            let (boxed, code) = if city.code == "ABJ" {
                (
                    format!("{zone:02} BP {bp} Abidjan {zone:02}"),
                    format!("{zone:02} BP {bp}"),
                )
            } else {
                (format!("BP {bp} {}", city.name), format!("BP {bp}"))
            };
            if yes(rng, 0.5) {
                r.address = boxed;
            } else {
                r.postcode = code;
            }
        }
    }
    if yes(rng, p.locality) {
        r.locality = if !home.quarter.commune.is_empty() && yes(rng, 0.3) {
            home.quarter.commune.to_string()
        } else if yes(rng, 0.75) {
            city.name.to_string()
        } else {
            choose(rng, city.locality_variants).to_string()
        };
    }
    if yes(rng, p.region) {
        r.region = choose(rng, city.regions).to_string();
    }
    if yes(rng, p.country) {
        r.country = pick(rng, home.country.spellings()).to_string();
    }
    match source {
        Source::AgentApp => {
            for f in [
                &mut r.address,
                &mut r.locality,
                &mut r.region,
                &mut r.country,
            ] {
                *f = agent_style(f);
            }
        }
        Source::LegacyMfi => {
            for f in [
                &mut r.address,
                &mut r.locality,
                &mut r.region,
                &mut r.country,
            ] {
                *f = strip_accents(f).to_uppercase();
            }
        }
        _ => {}
    }
}

/// How a field agent types on a phone: lower case, no accents, short forms.
fn agent_style(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut out = strip_accents(s).to_lowercase();
    for (long, short) in [
        ("yopougon", "yop"),
        ("pres du ", "pres "),
        ("derriere", "derr"),
        ("a cote de la ", "cote "),
        ("a cote du ", "cote "),
        ("quartier", "qt"),
        ("secteur", "sect"),
        (",", ""),
    ] {
        if out.contains(long) {
            out = out.replace(long, short);
        }
    }
    out
}
