//! Countries, cities, neighbourhoods and landmarks, written the way clients
//! and clerks write them in Abidjan, Dakar, Bamako and Ouagadougou.

use crate::names::Ethnic;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Country {
    CI,
    SN,
    ML,
    BF,
}

impl Country {
    pub const ALL: [Country; 4] = [Country::CI, Country::SN, Country::ML, Country::BF];

    /// Share of the generated population living in the country.
    pub fn weight(self) -> f64 {
        match self {
            Country::CI => 0.55,
            Country::SN => 0.18,
            Country::ML => 0.14,
            Country::BF => 0.13,
        }
    }

    pub fn dial_code(self) -> &'static str {
        match self {
            Country::CI => "225",
            Country::SN => "221",
            Country::ML => "223",
            Country::BF => "226",
        }
    }

    /// Digits of a national phone number.
    pub fn phone_len(self) -> usize {
        match self {
            Country::CI => 10,
            Country::SN => 9,
            Country::ML | Country::BF => 8,
        }
    }

    /// How the country is written in the `country` field, with shares.
    pub fn spellings(self) -> &'static [(&'static str, f64)] {
        match self {
            Country::CI => &[
                ("CI", 0.30),
                ("Côte d'Ivoire", 0.25),
                ("CIV", 0.15),
                ("Cote d'ivoire", 0.10),
                ("COTE D'IVOIRE", 0.08),
                ("Cote d Ivoire", 0.05),
                ("RCI", 0.04),
                ("Ivory Coast", 0.03),
            ],
            Country::SN => &[
                ("SN", 0.35),
                ("Sénégal", 0.30),
                ("Senegal", 0.15),
                ("SEN", 0.10),
                ("SENEGAL", 0.10),
            ],
            Country::ML => &[
                ("ML", 0.35),
                ("Mali", 0.40),
                ("MLI", 0.10),
                ("MALI", 0.10),
                ("Rép. du Mali", 0.05),
            ],
            Country::BF => &[
                ("BF", 0.35),
                ("Burkina Faso", 0.30),
                ("Burkina", 0.15),
                ("BFA", 0.10),
                ("BURKINA FASO", 0.10),
            ],
        }
    }

    /// The ethno-linguistic mix of the residents.
    pub fn ethnic_mix(self) -> &'static [(Ethnic, f64)] {
        match self {
            Country::CI => &[
                (Ethnic::Akan, 0.38),
                (Ethnic::Mande, 0.37),
                (Ethnic::Krou, 0.10),
                (Ethnic::Mossi, 0.10),
                (Ethnic::Peul, 0.03),
                (Ethnic::Wolof, 0.02),
            ],
            Country::SN => &[
                (Ethnic::Wolof, 0.50),
                (Ethnic::Peul, 0.25),
                (Ethnic::SererDiola, 0.20),
                (Ethnic::Mande, 0.05),
            ],
            Country::ML => &[(Ethnic::Mande, 0.82), (Ethnic::Peul, 0.18)],
            Country::BF => &[
                (Ethnic::Mossi, 0.70),
                (Ethnic::BfWest, 0.18),
                (Ethnic::Peul, 0.08),
                (Ethnic::Mande, 0.04),
            ],
        }
    }

    pub fn cities(self) -> &'static [City] {
        match self {
            Country::CI => CITIES_CI,
            Country::SN => CITIES_SN,
            Country::ML => CITIES_ML,
            Country::BF => CITIES_BF,
        }
    }
}

/// A city with its neighbourhoods.
#[derive(Debug)]
pub struct City {
    /// Canonical name, and other ways the `locality` field holds it.
    pub name: &'static str,
    pub locality_variants: &'static [&'static str],
    /// Region or district, and its variants.
    pub regions: &'static [&'static str],
    /// Three-letter code used in solidarity-group ids (`GS-ABJ-0042`).
    pub code: &'static str,
    pub weight: f64,
    pub quarters: &'static [Quarter],
}

/// A neighbourhood. `commune` is set in Abidjan, where people write the
/// commune before the quarter ("Yopougon Niangon").
#[derive(Debug)]
pub struct Quarter {
    pub commune: &'static str,
    pub name: &'static str,
    pub variants: &'static [&'static str],
}

const fn q(
    commune: &'static str,
    name: &'static str,
    variants: &'static [&'static str],
) -> Quarter {
    Quarter {
        commune,
        name,
        variants,
    }
}

pub const CITIES_CI: &[City] = &[
    City {
        name: "Abidjan",
        locality_variants: &["Abidjan", "ABIDJAN", "Abj", "Abidjan CI", "Abidajn"],
        regions: &[
            "Abidjan",
            "Lagunes",
            "District d'Abidjan",
            "District Autonome d'Abidjan",
        ],
        code: "ABJ",
        weight: 0.55,
        quarters: &[
            q(
                "Cocody",
                "II Plateaux",
                &["2 Plateaux", "Deux Plateaux", "2 Plx", "II Plateaux Vallon"],
            ),
            q(
                "Cocody",
                "Angré",
                &["Angre", "Angré 8e tranche", "Angré Château"],
            ),
            q(
                "Cocody",
                "Riviera 2",
                &["Riviera II", "Riv 2", "Riviera deux"],
            ),
            q(
                "Cocody",
                "Riviera Palmeraie",
                &["Palmeraie", "Riviera Palmerai"],
            ),
            q("Cocody", "Blockhauss", &["Blokhauss", "Blockhaus"]),
            q(
                "Yopougon",
                "Niangon",
                &["Niangon Nord", "Niangon Sud", "Niangon Lokoa"],
            ),
            q("Yopougon", "Selmer", &["Selmer", "Yop Selmer"]),
            q("Yopougon", "Maroc", &["Yop Maroc", "Maroc"]),
            q("Yopougon", "Sicogi", &["Sicogi", "Yop Sicogi"]),
            q("Yopougon", "Toits Rouges", &["Toit Rouge", "Toits-Rouges"]),
            q("Yopougon", "Andokoi", &["Andokoua", "Andokoi"]),
            q("Abobo", "Avocatier", &["Avocatier", "Abobo Avocatiers"]),
            q("Abobo", "PK18", &["PK 18", "Pk18"]),
            q("Abobo", "Baoulé", &["Abobo Baoule", "Abobo Baoulé"]),
            q("Abobo", "Anonkoua", &["Anonkoua 3", "Anonkoi"]),
            q("Abobo", "Samaké", &["Samake"]),
            q(
                "Adjamé",
                "220 Logements",
                &["220 Lgts", "220 logts", "220 Logement"],
            ),
            q("Adjamé", "Williamsville", &["Williamsville", "Willy"]),
            q("Treichville", "Avenue 12", &["Av 12", "Avenue 12 Rue 38"]),
            q("Treichville", "Arras", &["Arras 2", "Arras"]),
            q("Marcory", "Zone 4", &["Zone 4C", "Z4"]),
            q("Marcory", "Anoumabo", &["Anoumabo", "Marcory Anoumambo"]),
            q("Koumassi", "Remblais", &["Remblai", "Koumassi Remblais"]),
            q(
                "Koumassi",
                "Campement",
                &["Koumassi Campement", "Campement"],
            ),
            q("Port-Bouët", "Gonzagueville", &["Gonzague", "Gonzagville"]),
            q("Port-Bouët", "Vridi", &["Vridi Cité", "Vridi"]),
            q("Attécoubé", "Locodjro", &["Locodjoro", "Locodjro"]),
            q("Bingerville", "Centre", &["Bingerville"]),
            q("Anyama", "Centre", &["Anyama"]),
        ],
    },
    City {
        name: "Bouaké",
        locality_variants: &["Bouaké", "Bouake", "BOUAKE", "Bke"],
        regions: &["Gbêkê", "Gbeke", "Vallée du Bandama"],
        code: "BKE",
        weight: 0.12,
        quarters: &[
            q("", "Koko", &["Koko"]),
            q("", "Air France", &["Air France 1", "Air-France"]),
            q("", "Belleville", &["Belle Ville"]),
            q("", "Dar-es-Salam", &["Dar Es Salam", "Dar-Es-Salam 2"]),
            q("", "Commerce", &["Quartier Commerce"]),
            q("", "Ahougnansou", &["Ahougnanssou"]),
            q("", "Nimbo", &["Nimbo"]),
        ],
    },
    City {
        name: "Yamoussoukro",
        locality_variants: &["Yamoussoukro", "Yakro", "YAMOUSSOUKRO"],
        regions: &["Yamoussoukro", "District de Yamoussoukro", "Lacs"],
        code: "YAM",
        weight: 0.07,
        quarters: &[
            q("", "Habitat", &["Habitat"]),
            q("", "Dioulakro", &["Dioulakro"]),
            q("", "Morofé", &["Morofe"]),
            q("", "220 Logements", &["220 Lgts"]),
        ],
    },
    City {
        name: "San-Pédro",
        locality_variants: &["San-Pédro", "San Pedro", "SAN PEDRO"],
        regions: &["San-Pédro", "Bas-Sassandra"],
        code: "SPD",
        weight: 0.07,
        quarters: &[
            q("", "Bardot", &["Bardo"]),
            q("", "Lac", &["Quartier Lac"]),
            q("", "Séwéké", &["Seweke"]),
            q("", "Cité", &["Cite"]),
        ],
    },
    City {
        name: "Daloa",
        locality_variants: &["Daloa", "DALOA"],
        regions: &["Haut-Sassandra", "Haut Sassandra"],
        code: "DAL",
        weight: 0.07,
        quarters: &[
            q("", "Lobia", &["Lobia"]),
            q("", "Tazibouo", &["Tazibouo"]),
            q("", "Orly", &["Orly"]),
            q("", "Kennedy", &["Kenedy"]),
        ],
    },
    City {
        name: "Korhogo",
        locality_variants: &["Korhogo", "KORHOGO", "Korogho"],
        regions: &["Poro", "Savanes"],
        code: "KHG",
        weight: 0.07,
        quarters: &[
            q("", "Soba", &["Soba"]),
            q("", "Petit Paris", &["Petit-Paris"]),
            q("", "Koko", &["Koko"]),
            q("", "Résidentiel", &["Residentiel"]),
        ],
    },
    City {
        name: "Man",
        locality_variants: &["Man", "MAN"],
        regions: &["Tonkpi", "Montagnes"],
        code: "MAN",
        weight: 0.05,
        quarters: &[
            q("", "Libreville", &["Libreville"]),
            q("", "Domoraud", &["Domorau"]),
            q("", "Thérèse", &["Therese"]),
        ],
    },
];

pub const CITIES_SN: &[City] = &[
    City {
        name: "Dakar",
        locality_variants: &["Dakar", "DAKAR", "Dkr"],
        regions: &["Dakar", "Région de Dakar"],
        code: "DKR",
        weight: 0.45,
        quarters: &[
            q("", "Medina", &["Médina", "Medina"]),
            q("", "Grand Yoff", &["Gd Yoff", "Grand-Yoff"]),
            q(
                "",
                "Parcelles Assainies",
                &["Parcelles", "PA", "Parcelles Assainies Unité 15"],
            ),
            q("", "HLM", &["HLM Grand Yoff", "Hlm"]),
            q(
                "",
                "Sicap Liberté 6",
                &["Liberté 6", "Sicap Liberte 6", "Lib 6"],
            ),
            q("", "Ouakam", &["Ouakam Cité Avion", "Ouakam"]),
            q("", "Yoff", &["Yoff Ranard", "Yoff"]),
            q("", "Fass", &["Fass Delorme", "Fass"]),
            q("", "Colobane", &["Colobane"]),
            q("", "Point E", &["Point-E"]),
        ],
    },
    City {
        name: "Pikine",
        locality_variants: &["Pikine", "PIKINE"],
        regions: &["Dakar"],
        code: "PIK",
        weight: 0.15,
        quarters: &[
            q("", "Thiaroye", &["Thiaroye sur Mer", "Thiaroye"]),
            q("", "Guinaw Rail", &["Guinaw Rails", "Guinaw-Rail"]),
        ],
    },
    City {
        name: "Guédiawaye",
        locality_variants: &["Guédiawaye", "Guediawaye"],
        regions: &["Dakar"],
        code: "GDW",
        weight: 0.1,
        quarters: &[q("", "Golf Sud", &["Golf"]), q("", "Sam Notaire", &["Sam"])],
    },
    City {
        name: "Thiès",
        locality_variants: &["Thiès", "Thies", "THIES"],
        regions: &["Thiès", "Thies"],
        code: "THS",
        weight: 0.12,
        quarters: &[
            q("", "Randoulène", &["Randoulene"]),
            q("", "Cité Lamy", &["Cite Lamy"]),
        ],
    },
    City {
        name: "Saint-Louis",
        locality_variants: &["Saint-Louis", "St Louis", "St-Louis"],
        regions: &["Saint-Louis"],
        code: "STL",
        weight: 0.08,
        quarters: &[q("", "Sor", &["Sor"]), q("", "Guet Ndar", &["Guet-Ndar"])],
    },
    City {
        name: "Kaolack",
        locality_variants: &["Kaolack", "KAOLACK"],
        regions: &["Kaolack"],
        code: "KLK",
        weight: 0.05,
        quarters: &[
            q("", "Médina Baye", &["Medina Baye"]),
            q("", "Léona", &["Leona"]),
        ],
    },
    City {
        name: "Touba",
        locality_variants: &["Touba", "TOUBA"],
        regions: &["Diourbel"],
        code: "TBA",
        weight: 0.05,
        quarters: &[
            q("", "Darou Khoudoss", &["Darou Khoudos"]),
            q("", "Guédé", &["Guede"]),
        ],
    },
];

pub const CITIES_ML: &[City] = &[
    City {
        name: "Bamako",
        locality_variants: &["Bamako", "BAMAKO", "Bko"],
        regions: &["Bamako", "District de Bamako"],
        code: "BKO",
        weight: 0.6,
        quarters: &[
            q(
                "",
                "Hamdallaye ACI 2000",
                &["ACI 2000", "Hamdallaye ACI", "ACI2000"],
            ),
            q("", "Badalabougou", &["Badalabougou Sema", "Badala"]),
            q("", "Kalaban Coura", &["Kalaban Koura", "Kalabancoura"]),
            q("", "Magnambougou", &["Magnambougou"]),
            q("", "Lafiabougou", &["Lafiabougou"]),
            q("", "Sogoniko", &["Sogoniko"]),
            q("", "Djélibougou", &["Djelibougou"]),
            q("", "Banconi", &["Banconi"]),
            q("", "Niamakoro", &["Niamakoro"]),
            q("", "Faladié", &["Faladie", "Faladié Sema"]),
        ],
    },
    City {
        name: "Sikasso",
        locality_variants: &["Sikasso", "SIKASSO"],
        regions: &["Sikasso"],
        code: "SKS",
        weight: 0.14,
        quarters: &[
            q("", "Wayerma", &["Wayerma 2"]),
            q("", "Mancourani", &["Mancourani"]),
        ],
    },
    City {
        name: "Ségou",
        locality_variants: &["Ségou", "Segou", "SEGOU"],
        regions: &["Ségou", "Segou"],
        code: "SEG",
        weight: 0.12,
        quarters: &[
            q("", "Pelengana", &["Pélengana"]),
            q("", "Hamdallaye", &["Hamdalaye"]),
        ],
    },
    City {
        name: "Mopti",
        locality_variants: &["Mopti", "Sévaré", "Sevare"],
        regions: &["Mopti"],
        code: "MPT",
        weight: 0.07,
        quarters: &[
            q("", "Sévaré", &["Sevare"]),
            q("", "Komoguel", &["Komoguel 1"]),
        ],
    },
    City {
        name: "Kayes",
        locality_variants: &["Kayes", "KAYES"],
        regions: &["Kayes"],
        code: "KYS",
        weight: 0.07,
        quarters: &[
            q("", "Liberté", &["Liberte"]),
            q("", "Légal Ségou", &["Legal Segou"]),
        ],
    },
];

pub const CITIES_BF: &[City] = &[
    City {
        name: "Ouagadougou",
        locality_variants: &["Ouagadougou", "Ouaga", "OUAGADOUGOU", "Ougadougou"],
        regions: &["Centre", "Kadiogo"],
        code: "OUA",
        weight: 0.6,
        quarters: &[
            q("", "Ouaga 2000", &["Ouaga2000", "Ouaga 2000"]),
            q("", "Gounghin", &["Gounghin Sud", "Gounghin"]),
            q("", "Tampouy", &["Tampouy"]),
            q("", "Pissy", &["Pissy"]),
            q("", "Dassasgho", &["Dassasgo"]),
            q("", "Patte d'Oie", &["Patte d oie", "Patte-d'Oie"]),
            q("", "Wemtenga", &["Wemtenga"]),
            q("", "Zogona", &["Zogona"]),
            q("", "Tanghin", &["Tanghin", "Tanghin Barrage"]),
            q("", "Cissin", &["Cissin"]),
            q("", "Karpala", &["Karpala"]),
        ],
    },
    City {
        name: "Bobo-Dioulasso",
        locality_variants: &["Bobo-Dioulasso", "Bobo", "Bobo Dioulasso", "BOBO"],
        regions: &["Hauts-Bassins", "Houet"],
        code: "BOB",
        weight: 0.28,
        quarters: &[
            q("", "Accart-Ville", &["Accartville", "Accart Ville"]),
            q("", "Sarfalao", &["Sarfalao"]),
            q("", "Dogona", &["Dogona"]),
            q("", "Kuinima", &["Kouinima"]),
            q("", "Colsama", &["Colsama"]),
        ],
    },
    City {
        name: "Koudougou",
        locality_variants: &["Koudougou", "KDG"],
        regions: &["Centre-Ouest", "Boulkiemdé"],
        code: "KDG",
        weight: 0.12,
        quarters: &[q("", "Palogo", &["Palogo"]), q("", "Issouka", &["Issouka"])],
    },
];

/// Landmarks people use instead of street addresses.
pub const LANDMARKS: &[&str] = &[
    "près du marché",
    "derrière la pharmacie",
    "à côté de la mosquée",
    "en face de l'église",
    "près de l'école primaire",
    "derrière le maquis",
    "près du carrefour",
    "non loin de la station Total",
    "à côté de la boulangerie",
    "près de la gare",
    "derrière le commissariat",
    "près du château d'eau",
    "face au dispensaire",
    "près du terminus",
    "à côté du kiosque Orange Money",
    "derrière le terrain de foot",
];
