"""The app's static world: plans, trainers, programs, workouts, and the vocabularies of events."""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker.providers.person.en_US import Provider as _PersonProvider

PLANS: dict[str, dict] = {
    "free": {"plan_id": "free", "name": "Free", "monthly_price": 0.0, "billing_period": "none"},
    "premium_monthly": {
        "plan_id": "premium_monthly",
        "name": "Premium (monthly)",
        "monthly_price": 14.99,
        "billing_period": "monthly",
        "price": 14.99,
    },
    "premium_annual": {
        "plan_id": "premium_annual",
        "name": "Premium (annual)",
        "monthly_price": round(119.99 / 12, 2),
        "billing_period": "annual",
        "price": 119.99,
    },
}

CHANNELS = ("organic", "paid_social", "search", "referral", "partner")
CHANNEL_WEIGHTS = (0.34, 0.26, 0.18, 0.12, 0.10)
# Beta(a, b) of the latent engagement at signup: channels differ in quality.
CHANNEL_ENGAGEMENT = {
    "organic": (4.0, 3.0),
    "paid_social": (2.0, 4.0),
    "search": (3.0, 3.0),
    "referral": (5.0, 3.0),
    "partner": (3.0, 3.5),
}
CHANNEL_CAMPAIGN = {
    "organic": None,
    "paid_social": [
        ("instagram", "paid_social"),
        ("facebook", "paid_social"),
        ("tiktok", "paid_social"),
    ],
    "search": [("google", "cpc"), ("bing", "cpc")],
    "referral": [("member_invite", "referral")],
    "partner": [("gympass", "partner"), ("classpass", "partner")],
}
# country, weight, locale, UTC offset in hours (for the daily rhythm)
COUNTRIES = (
    ("US", 0.42, "en-US", -5),
    ("GB", 0.12, "en-GB", 0),
    ("CA", 0.08, "en-CA", -5),
    ("DE", 0.10, "de-DE", 1),
    ("FR", 0.06, "fr-FR", 1),
    ("BR", 0.08, "pt-BR", -3),
    ("AU", 0.06, "en-AU", 10),
    ("IN", 0.08, "en-IN", 5),
)
PLATFORMS = {
    "ios": {
        "library": {"name": "analytics-ios", "version": "4.1.8"},
        "os": "iOS",
        "os_versions": ("17.5", "17.6", "18.1", "18.2"),
        "models": ("iPhone14,5", "iPhone15,2", "iPhone16,1"),
        "manufacturer": "Apple",
    },
    "android": {
        "library": {"name": "analytics-android", "version": "4.11.3"},
        "os": "Android",
        "os_versions": ("13", "14", "15"),
        "models": ("Pixel 8", "SM-S918B", "SM-A546B", "moto g84"),
        "manufacturer": "Google",
    },
}
SERVER_LIBRARY = {"name": "analytics-python", "version": "2.3.2"}
# (version, day offset of release as a share of the window)
APP_RELEASES = (("5.2.0", -1.0), ("5.3.0", 0.3), ("5.4.0", 0.75))

AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
AGE_WEIGHTS = (0.22, 0.36, 0.24, 0.12, 0.06)
GOALS = ("lose_weight", "build_muscle", "improve_endurance", "flexibility", "stress_relief")
CATEGORIES = ("strength", "yoga", "hiit", "running", "mobility", "pilates")
LEVELS = ("beginner", "intermediate", "advanced")
SCREENS = ("Home", "Workout Player", "Program Detail", "Marketplace", "Profile", "Settings")
FEATURES = (
    "search",
    "filters",
    "calendar_sync",
    "progress_photos",
    "voice_coach",
    "share_workout",
    "dark_mode",
    "feedback",
)
CANCEL_REASONS = ("too_expensive", "not_using_it", "found_alternative", "technical_issues")
SAFETY_FLAGS = ("overexertion", "injury_risk", "contraindication")
# endpoint, method, median latency ms, lognormal sigma, error rate
ENDPOINTS = {
    "feed": ("/v1/feed", "GET", 85.0, 0.45, 0.004),
    "recommendations": ("/v1/recommendations", "GET", 180.0, 0.55, 0.012),
    "program": ("/v1/programs/{id}", "GET", 60.0, 0.40, 0.003),
    "workout": ("/v1/workouts", "POST", 110.0, 0.50, 0.006),
    "purchase": ("/v1/purchases", "POST", 420.0, 0.60, 0.02),
    "subscription": ("/v1/subscriptions", "POST", 380.0, 0.55, 0.015),
    "login": ("/v1/auth/login", "POST", 140.0, 0.50, 0.008),
}

EXPERIMENT_NAME = "onboarding_v2"
EXPERIMENT_VARIANTS = ("control", "treatment")
SYSTEM_ANONYMOUS_ID = "system:recommender"

FIRST_NAMES = tuple(_PersonProvider.first_names_female) + tuple(_PersonProvider.first_names_male)
LAST_NAMES = tuple(_PersonProvider.last_names)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")

COMMENTS = (
    "Loved this one",
    "Too hard for me today",
    "Perfect length",
    "Knees hurt after the jumps",
    "Please add more mobility work",
    "Music could be better",
    "Great warm-up",
    "Not what I expected",
)
_TITLE_A = ("Total", "Core", "Power", "Lean", "Zen", "Rapid", "Daily", "Ultimate", "Pure", "Strong")
_TITLE_B = {
    "strength": ("Strength", "Lift", "Barbell Basics"),
    "yoga": ("Flow", "Yoga", "Vinyasa"),
    "hiit": ("HIIT", "Burn", "Tabata"),
    "running": ("5K Plan", "Run Club", "Tempo Runs"),
    "mobility": ("Mobility", "Stretch", "Recovery"),
    "pilates": ("Pilates", "Reformer", "Core Pilates"),
}


@dataclass(frozen=True)
class Catalog:
    trainers: list[dict]
    programs: list[dict]
    # workout_id -> (program_id, category, typical minutes)
    workouts: list[tuple[str, str, str, int]]


def build_catalog(rng: random.Random, n_users: int) -> Catalog:
    """Trainers, their programs and each program's workouts; sized with the user base."""
    n_trainers = max(12, min(400, 10 + n_users // 60))
    trainers: list[dict] = []
    for i in range(n_trainers):
        first = rng.choice(FIRST_NAMES).lower()
        trainers.append(
            {
                "trainer_id": f"tr_{i + 1:04d}",
                "name": f"coach_{first}_{rng.randint(10, 99)}",
                "commission_rate": rng.choice((0.15, 0.20, 0.20, 0.25, 0.30)),
                "specialty": rng.choice(CATEGORIES),
            }
        )
    programs: list[dict] = []
    workouts: list[tuple[str, str, str, int]] = []
    for trainer in trainers:
        for _ in range(rng.randint(2, 5)):
            pid = f"pg_{len(programs) + 1:05d}"
            category = trainer["specialty"] if rng.random() < 0.7 else rng.choice(CATEGORIES)
            level = rng.choice(LEVELS)
            programs.append(
                {
                    "program_id": pid,
                    "trainer_id": trainer["trainer_id"],
                    "title": f"{rng.choice(_TITLE_A)} {rng.choice(_TITLE_B[category])}",
                    "category": category,
                    "price": rng.choice((9.99, 14.99, 19.99, 24.99, 29.99, 39.99, 49.99)),
                    "level": level,
                }
            )
            minutes = rng.choice((15, 20, 25, 30, 40, 45, 60))
            for w in range(rng.randint(6, 12)):
                workouts.append((f"wo_{pid[3:]}_{w + 1:02d}", pid, trainer["trainer_id"], minutes))
    return Catalog(trainers=trainers, programs=programs, workouts=workouts)
