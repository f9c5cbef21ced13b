from knowledge_base.normalization import Normalizer, parse_word_lists, split_segments


def test_slang_abbreviations_and_case_are_canonical() -> None:
    normalizer = Normalizer()
    assert normalizer.content("GMN cara ngurus IJIN usaha??") == [
        "bagaimana",
        "cara",
        "urus",
        "izin",
        "usaha",
    ]
    assert normalizer.content("brp lama proses pbg") == ["berapa", "lama", "proses", "pbg"]
    assert normalizer.content("gak") == normalizer.content("nggak") == ["tidak"]
    assert normalizer.content("tdk") == normalizer.content("ga") == ["tidak"]
    assert normalizer.content("udh") == normalizer.content("sdh") == []  # "sudah" is a stopword
    assert normalizer.content("no tlp") == ["nomor", "telepon"]


def test_greetings_fillers_and_stopwords_are_dropped() -> None:
    normalizer = Normalizer()
    text = "Selamat pagi kak, mohon info alamat Mal Pelayanan Publik yg di Jakarta. Terima kasih!"
    assert normalizer.content(text) == ["alamat", "mpp", "jakarta"]
    assert normalizer.content("alamat mpp dmn ya min") == ["alamat", "mpp", "dimana"]
    assert normalizer.content("makasih min") == []


def test_reduplication_suffix_and_stretched_letters() -> None:
    normalizer = Normalizer()
    assert normalizer.content("syarat2") == normalizer.content("syarat-syarat") == ["syarat"]
    assert normalizer.content("bukanya jam brp") == ["buka", "jam", "berapa"]
    assert normalizer.content("tanya") == ["tanya"]  # short words keep their "nya"
    assert normalizer.content("izin kelarrr") == ["izin", "selesai"]


def test_email_addresses_and_links_become_one_word() -> None:
    normalizer = Normalizer()
    assert normalizer.content("kirim ke komunikasiinformasi.dpmptsp@jakarta.go.id") == [
        "kirim",
        "email",
    ]
    assert "https" not in normalizer.content("lihat https://example.org/izin")


def test_word_lists_come_from_data_not_code() -> None:
    words = parse_word_lists(["mantul\tbagus", "mal keren\tmpp"], ["yo"], ["dong"])
    normalizer = Normalizer(words)
    assert normalizer.content("yo mantul dong") == ["bagus"]
    assert normalizer.content("mal keren") == ["mpp"]


def test_segments_cover_sentences_clauses_and_neighbours() -> None:
    segments = split_segments("alamat mpp dmn ya? trus bukanya jam brp?")
    assert "alamat mpp dmn ya" in segments
    assert "trus bukanya jam brp" in segments
    email = "Dengan hormat,\nPermohonan saya ditolak. Apa yang harus saya lakukan?\nSalam"
    assert "Permohonan saya ditolak Apa yang harus saya lakukan" in split_segments(email)
    # A time or a domain name does not end a sentence.
    assert split_segments("buka 10.00 di jakarta.go.id") == ["buka 10.00 di jakarta.go.id"]
