"""Place extraction accuracy over messages in five languages (typos and unknown places included).

Each case: (language, conversation country, message, expected). Expected is "Name|CC" (the place),
"?Name|CC" (namesakes: a numbered question whose choices include it is right), or None (no place,
or a place the gazetteer does not know: the finder must then ask, never guess).
"""

from __future__ import annotations

from typing import Any, Optional

import pytest

from bot.directory.placefinder import find_place
from bot.text import normalise

CASES: list[tuple[str, str, str, Optional[str]]] = [
    # English (Kenya mostly)
    ("en", "KE", "im in nakuru near the stage", "Nakuru|KE"),
    ("en", "KE", "i stay in kibera", "Kibera|KE"),
    ("en", "KE", "where can i find a shelter in kisumu", "Kisumu|KE"),
    ("en", "KE", "nearest gender desk to eldoret pls", "Eldoret|KE"),
    ("en", "KE", "am at mombasa now", "Mombasa|KE"),
    ("en", "KE", "i live in kayole", "Kayole|KE"),
    ("en", "KE", "help me find police in nairobi", "Nairobi|KE"),
    ("en", "KE", "nakru", "Nakuru|KE"),
    ("en", "KE", "im in nairobii", "Nairobi|KE"),
    ("en", "KE", "kisumo town", "Kisumu|KE"),
    ("en", "KE", "eldorett", "Eldoret|KE"),
    ("en", "KE", "i need a hospital in machakos", "Machakos|KE"),
    ("en", "KE", "thika", "Thika|KE"),
    ("en", "KE", "we are in kitale", "Kitale|KE"),
    ("en", "KE", "i need help", None),
    ("en", "KE", "my husband beats me what do i do", None),
    ("en", "KE", "where is the nearest one stop centre", None),
    ("en", "KE", "im scared to go home", None),
    ("en", "KE", "i live in kamukunji estate", None),
    ("en", "KE", "im near the market", None),
    ("en", "KE", "in uasin gishu county", "Uasin Gishu|KE"),
    ("en", "KE", "i'm in ongata rongai", "Ongata Rongai|KE"),
    ("en", "KE", "eastleigh section 1", "Eastleigh|KE"),
    ("en", "KE", "im in kisumu ndogo", "Kisumu Ndogo|KE"),
    ("en", "RW", "kigali", "Kigali|RW"),
    ("en", "KE", "i am in lima peru", "Lima|PE"),
    ("en", "BR", "staying in sao paulo for now", "São Paulo|BR"),
    ("en", "ES", "I'm in Madrid", "Madrid|ES"),
    ("en", "KE", "i need a safe house near naivasha", "Naivasha|KE"),
    ("en", "KE", "can u help me im in nyeri", "Nyeri|KE"),
    ("en", "KE", "i live in mlolongo", "Mlolongo|KE"),
    ("en", "KE", "my man took my phone", None),
    ("en", "KE", "i am at work", None),
    ("en", "KE", "i was raped last night", None),
    ("en", "KE", "is there counselling in kakamega", "Kakamega|KE"),
    ("en", "KE", "the police at the station laughed at me", None),
    ("en", "KE", "near kencom", None),
    ("en", "KE", "i live in a village called kwa mbeke", None),
    ("en", "KE", "i am in mombassa", "Mombasa|KE"),
    ("en", "KE", "garisa", "Garissa|KE"),
    ("en", "KE", "Rongai", "?Ongata Rongai|KE"),
    # Swahili
    ("sw", "KE", "niko kibera", "Kibera|KE"),
    ("sw", "KE", "niko nakuru", "Nakuru|KE"),
    ("sw", "KE", "nipo mombasa karibu na feri", "Mombasa|KE"),
    ("sw", "KE", "naishi kayole", "Kayole|KE"),
    ("sw", "KE", "tuko eldoret", "Eldoret|KE"),
    ("sw", "KE", "nataka msaada niko kisumu", "Kisumu|KE"),
    ("sw", "KE", "niko nyeri mjini", "Nyeri|KE"),
    ("sw", "KE", "polisi wa karibu na thika wako wapi", "Thika|KE"),
    ("sw", "KE", "niko nairobi", "Nairobi|KE"),
    ("sw", "KE", "naomba msaada", None),
    ("sw", "KE", "mume wangu ananipiga", None),
    ("sw", "KE", "niko nyumbani", None),
    ("sw", "KE", "niko kwa shamba", None),
    ("sw", "KE", "niko nakru", "Nakuru|KE"),
    ("sw", "KE", "tupo dar es salaam", "Dar es Salaam|TZ"),
    ("sw", "RW", "niko kigali", "Kigali|RW"),
    ("sw", "KE", "niko machakos town", "Machakos|KE"),
    ("sw", "KE", "niko kisumu ndogo", "Kisumu Ndogo|KE"),
    ("sw", "KE", "niko gikomba", None),
    ("sw", "KE", "naishi rongai", "?Ongata Rongai|KE"),
    ("sw", "KE", "niko eldoreti", "Eldoret|KE"),
    ("sw", "KE", "nisaidie tafadhali niko hatarini", None),
    # French (Senegal, Rwanda)
    ("fr", "SN", "je suis à dakar", "Dakar|SN"),
    ("fr", "SN", "j'habite à pikine", "Pikine|SN"),
    ("fr", "SN", "je suis à thies", "Thiès|SN"),
    ("fr", "SN", "je suis a saint louis", "Saint-Louis|SN"),
    ("fr", "SN", "je vis à ziguinchor", "Ziguinchor|SN"),
    ("fr", "SN", "kaolak", "Kaolack|SN"),
    ("fr", "RW", "je suis à kigali, nyamirambo", "Nyamirambo|RW"),
    ("fr", "RW", "j'habite à huye", "Huye|RW"),
    ("fr", "RW", "je suis à Musanze", "Musanze|RW"),
    ("fr", "SN", "besoin d'aide", None),
    ("fr", "SN", "mon mari me frappe", None),
    ("fr", "SN", "je suis à la maison", None),
    ("fr", "SN", "je suis au marché", None),
    ("fr", "SN", "je suis à guediawaye", "Guédiawaye|SN"),
    ("fr", "SN", "je suis à rufisque", "Rufisque|SN"),
    ("fr", "SN", "j'habite à Grand Yoff", None),
    ("fr", "SN", "je suis a dakkar", "Dakar|SN"),
    ("fr", "SN", "je suis à mbour", "Mbour|SN"),
    ("fr", "SN", "où est le commissariat le plus proche", None),
    ("fr", "SN", "je suis à Touba", "Touba|SN"),
    # Spanish (Peru, Spain)
    ("es", "PE", "estoy en miraflores lima", "Miraflores|PE"),
    ("es", "PE", "vivo en san juan de lurigancho", "San Juan de Lurigancho|PE"),
    ("es", "PE", "estoy en arequipa", "Arequipa|PE"),
    ("es", "PE", "estoy en cuzco", "Cusco|PE"),
    ("es", "PE", "necesito ayuda en trujillo", "Trujillo|PE"),
    ("es", "PE", "estoy en piura", "Piura|PE"),
    ("es", "PE", "arekipa", "Arequipa|PE"),
    ("es", "PE", "estoy en San José", "?San José|PE"),
    ("es", "PE", "necesito ayuda", None),
    ("es", "PE", "mi esposo me pega", None),
    ("es", "PE", "estoy en casa", None),
    ("es", "PE", "estoy en la calle", None),
    ("es", "ES", "vivo en madrid", "Madrid|ES"),
    ("es", "ES", "estoy en vallecas", "Vallecas|ES"),
    ("es", "ES", "estoy en sevilla", "Sevilla|ES"),
    ("es", "ES", "valensia", "Valencia|ES"),
    ("es", "ES", "estoy en barcelona", "Barcelona|ES"),
    ("es", "PE", "vivo cerca de la plaza de armas", None),
    ("es", "ES", "estoy en lavapies", "Lavapiés|ES"),
    ("es", "ES", "comisaría más cercana a bilbao", "Bilbao|ES"),
    # Portuguese (Brazil, Mozambique)
    ("pt", "BR", "estou em sao paulo", "São Paulo|BR"),
    ("pt", "BR", "moro no rio", "Rio de Janeiro|BR"),
    ("pt", "BR", "estou em salvador bahia", "Salvador|BR"),
    ("pt", "BR", "preciso de ajuda em recife", "Recife|BR"),
    ("pt", "BR", "estou em belo horizonte", "Belo Horizonte|BR"),
    ("pt", "BR", "manaus", "Manaus|BR"),
    ("pt", "MZ", "estou em maputo", "Maputo|MZ"),
    ("pt", "MZ", "moro na matola", "Matola|MZ"),
    ("pt", "MZ", "estou na beira", "Beira|MZ"),
    ("pt", "MZ", "estou em nampula", "Nampula|MZ"),
    ("pt", "BR", "sao paolo", "São Paulo|BR"),
    ("pt", "BR", "estou em recifi", "Recife|BR"),
    ("pt", "BR", "preciso de ajuda", None),
    ("pt", "BR", "meu marido me bate", None),
    ("pt", "BR", "estou em casa", None),
    ("pt", "BR", "estou na delegacia", None),
    ("pt", "MZ", "estou em chimoio", "Chimoio|MZ"),
    ("pt", "MZ", "moro em quelimane", "Quelimane|MZ"),
    ("pt", "BR", "estou em natal", "Natal|BR"),
    ("pt", "MZ", "moro no bairro de mafalala", None),
]


def _same(place: Any, expected: str) -> bool:
    name, country = expected.lstrip("?").split("|")
    return normalise(place.name) == normalise(name) and place.country == country


def _outcome(gazetteer: Any, lang: str, country: str, text: str, expected: Optional[str]) -> tuple[bool, bool]:
    """(predicted something, predicted the right thing)."""
    match = find_place(gazetteer, text, country, lang)
    if match.status == "found":
        return True, expected is not None and _same(match.place, expected)
    if match.status == "ambiguous":
        right = expected is not None and expected.startswith("?") and any(_same(p, expected) for p in match.choices)
        return True, right
    return False, False


def test_case_list_is_big_and_covers_every_language() -> None:
    assert len(CASES) >= 100
    langs = {lang for lang, *_ in CASES}
    assert langs == {"en", "fr", "es", "pt", "sw"}
    assert sum(1 for *_, expected in CASES if expected is None) >= 20


def test_place_extraction_precision_and_recall(gazetteer: Any, capsys: pytest.CaptureFixture[str]) -> None:
    tp = fp = fn = 0
    misses = []
    for lang, country, text, expected in CASES:
        predicted, right = _outcome(gazetteer, lang, country, text, expected)
        if right:
            tp += 1
        elif expected is None and not predicted:
            continue  # rightly found nothing
        else:
            fp += predicted
            fn += expected is not None
            misses.append(f"{lang} {text!r}: expected {expected}")
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    with capsys.disabled():
        print(f"\nplace extraction over {len(CASES)} messages: precision {precision:.3f}, recall {recall:.3f} (tp {tp}, fp {fp}, fn {fn})")
        for miss in misses:
            print(f"  miss: {miss}")
    assert precision >= 0.9
    assert recall >= 0.9


@pytest.mark.parametrize(
    "text,country,names",
    [
        ("San José", "PE", {"San José"}),
        ("rongai", "KE", {"Ongata Rongai", "Rongai"}),
    ],
)
def test_namesakes_become_ranked_numbered_choices(gazetteer: Any, text: str, country: str, names: set[str]) -> None:
    match = find_place(gazetteer, text, country, None)
    assert match.status == "ambiguous"
    assert {p.name for p in match.choices} <= names
    assert match.choices[0].country == country  # her country first
    assert len(match.choices) >= 2


def test_namesakes_rank_her_country_first(gazetteer: Any) -> None:
    in_spain = find_place(gazetteer, "estoy en Valencia", "ES", "es")
    assert in_spain.status == "found" and in_spain.place.country == "ES"
    santa_cruz = find_place(gazetteer, "Santa Cruz", "BR", "pt")
    assert santa_cruz.status == "ambiguous" and santa_cruz.choices[0].country == "BR"


def test_unknown_place_is_never_guessed(gazetteer: Any) -> None:
    match = find_place(gazetteer, "niko kamukunji", "KE", "sw")
    assert match.status == "unknown" and match.place is None and match.text == "kamukunji"


def test_little_kisumu_is_not_kisumu(gazetteer: Any) -> None:
    """A diminutive after a known town names another place: ask, don't send her to the wrong city."""
    from bot.directory.gazetteer import Gazetteer

    bare = Gazetteer(["KE"], [], [])  # no directory localities: "Kisumu Ndogo" is unknown here
    match = find_place(bare, "niko kisumu ndogo", "KE", "sw")
    assert match.status == "unknown"


def test_accents_and_case_do_not_matter(gazetteer: Any) -> None:
    for text in ("São Paulo", "sao paulo", "SAO PAULO", "são-paulo"):
        match = find_place(gazetteer, text, "BR", "pt")
        assert match.status == "found" and match.place.name == "São Paulo", text


def test_admin_area_seats_are_all_found(gazetteer: Any) -> None:
    assert gazetteer.missing_seats == []
