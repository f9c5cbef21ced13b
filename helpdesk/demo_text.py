"""Words for demo data: residents' names and the way they write, consultants'
replies. Residents write informal Indonesian: greetings, slang, abbreviations
("gmn", "ijin", "brp"), the odd typo."""

from __future__ import annotations

import random

FIRST_NAMES = (
    "Budi", "Siti", "Agus", "Dewi", "Rudi", "Sri", "Andi", "Ratna", "Joko", "Nur", "Hendra",
    "Lina", "Yusuf", "Fitri", "Bambang", "Wulan", "Eko", "Rina", "Dimas", "Putri", "Teguh",
    "Indah", "Fajar", "Ayu", "Rizky", "Maya", "Hadi", "Yuni", "Arif", "Nia", "Slamet", "Dian",
)
LAST_NAMES = (
    "Santoso", "Wijaya", "Saputra", "Lestari", "Hidayat", "Pratama", "Nugroho", "Siregar",
    "Simanjuntak", "Kusuma", "Setiawan", "Rahmawati", "Gunawan", "Hasibuan", "Purnomo",
    "Sitompul", "Halim", "Tanjung", "Wibowo", "Maharani",
)
CONSULTANTS = (
    ("Ani Rahmawati", ("umum", "pengaduan")), ("Bayu Pratama", ("umum",)),
    ("Citra Lestari", ("umum", "investasi")), ("Dedi Kurniawan", ("telepon-balik", "umum")),
    ("Eka Saputri", ("umum",)), ("Fikri Hidayat", ("investasi",)),
    ("Gita Maharani", ("pengaduan", "umum")), ("Hari Setiawan", ("telepon-balik",)),
    ("Intan Permata", ("umum",)), ("Johan Siregar", ("investasi", "umum")),
    ("Kartika Dewi", ("umum", "telepon-balik")), ("Lukman Hakim", ("pengaduan",)),
)
SUPERVISORS = ("Sari Wulandari", "Teguh Santoso")
PLACES = (
    "Cakung", "Tebet", "Kebayoran Baru", "Cengkareng", "Kelapa Gading", "Pasar Minggu",
    "Tanah Abang", "Cilincing", "Duren Sawit", "Grogol", "Menteng", "Pademangan", "Ciracas",
)
GREETINGS = ("Selamat pagi", "Selamat siang", "Selamat sore", "Permisi", "Halo min",
             "Assalamualaikum", "Pagi kak", "Siang min", "Halo", "")
CLOSINGS = ("Terima kasih.", "Mohon infonya.", "makasih min", "Tks", "Mohon bantuannya ya.",
            "Ditunggu jawabannya.", "")
CONTEXTS = (
    "Saya mau buka usaha warung makan di {place}.",
    "Saya tinggal di {place}.",
    "Usaha saya di daerah {place}.",
    "Kemarin sudah ke Mal Pelayanan Publik tapi belum jelas.",
    "Sudah coba di JakEVO tapi bingung.",
    "Mau urus untuk kantor kecil di {place}.",
    "",
)
SLANG = {"bagaimana": "gmn", "tidak": "ga", "yang": "yg", "izin": "ijin", "sudah": "udah",
         "berapa": "brp", "untuk": "utk", "saya": "sy", "sekarang": "skrg", "dengan": "dgn",
         "apakah": "apa", "bisa": "bs", "terima kasih": "makasih"}
PHONE_TEXTS = ("Panggilan tak terjawab dari warga", "Panggilan masuk, warga minta ditelepon balik",
               "Panggilan terputus saat antre")
FOLLOW_UPS = ("Baik, berikut saya lampirkan dokumennya.", "Sudah saya lengkapi kak.",
              "Oke sudah saya coba, berhasil. Makasih.", "Dokumennya menyusul ya min.")
REPLY_OPENINGS = ("Selamat pagi Bapak/Ibu {name}, terima kasih telah menghubungi Tanya PTSP.",
                  "Halo {name}, terima kasih atas pertanyaannya.",
                  "Selamat siang Bapak/Ibu {name}.")
REPLY_CLOSING = ("Jika masih ada pertanyaan, silakan hubungi kami kembali atau Tanya PTSP "
                 "1500164. Salam, {agent}")
ASK_DOCUMENT = ("Mohon kirimkan nomor permohonan dan foto KTP agar kami dapat memeriksa "
                "status berkas Anda.")


def resident_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def informal(text: str, rng: random.Random) -> str:
    """Rewrite a phrasing the way people type on a phone."""
    out = text
    if rng.random() < 0.6:
        out = out.lower()
    for word, short in SLANG.items():
        if word in out and rng.random() < 0.4:
            out = out.replace(word, short)
    if rng.random() < 0.15:
        words = out.split()
        i = rng.randrange(len(words)) if words else 0
        if words and len(words[i]) > 3:
            w = words[i]
            j = rng.randrange(len(w) - 1)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]  # two letters swapped
            out = " ".join(words)
    if rng.random() < 0.3:
        out = out.rstrip("?.") + "?" * rng.randint(1, 3)
    return out


def resident_message(phrasing: str, channel: str, name: str, rng: random.Random) -> str:
    greeting = rng.choice(GREETINGS)
    context = rng.choice(CONTEXTS).format(place=rng.choice(PLACES))
    closing = rng.choice(CLOSINGS)
    body = informal(phrasing, rng)
    if channel == "email":
        body = phrasing[0].upper() + phrasing[1:]
        lines = [f"{greeting or 'Dengan hormat'},", "", " ".join(x for x in (context, body) if x),
                 "", closing or "Terima kasih.", "", name]
        return "\n".join(lines)
    return " ".join(x for x in (greeting, body, context if rng.random() < 0.4 else "",
                                closing if rng.random() < 0.5 else "") if x)


def consultant_reply(answer: str, resident: str, agent: str, rng: random.Random) -> str:
    opening = rng.choice(REPLY_OPENINGS).format(name=resident.split()[0])
    summary = answer.split("\n\n")[0][:600]
    return f"{opening}\n\n{summary}\n\n{REPLY_CLOSING.format(agent=agent)}"
