"""Synthetic consortium for demos and tests: enterprises with codes, locations and emissions history."""

# The figures are invented but shaped like China's covered sectors: real GB/T 2260 prefecture
# codes and city centres, GB/T 4754-2017 industry classes, GB 32100-2015 credit codes,
# lognormal (heavy-tailed) plant sizes, sector-typical energy mixes and intensities around the
# planner's benchmarks. Process emissions (calcination, anodes, reductants) are folded into the
# fuel quantities, so energy-derived and reported emissions agree; fuel quantities of
# process-heavy sectors (cement, steel) are therefore higher than a real plant's.

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from chain.accounts import Signer, demo_account, seeded_account
from chain.allocation import (
    CARRIER_COLUMNS,
    HISTORY_COLUMNS,
    Benchmarks,
    EmissionFactors,
    EnterpriseHistory,
    YearRecord,
)
from chain.production import MonthlyEnergy, write_monthly_energy
from chain.registry import EnterpriseProfile
from domain.allocation import MAX_YEARS, MIN_YEARS
from domain.codes import CREDIT_CODE_CHARSET, credit_code_check_char
from domain.errors import InvalidInputError
from domain.surveillance import RECORD_COLUMNS, AccountRecord

logger = logging.getLogger(__name__)

#: Columns of enterprises.csv.
ENTERPRISE_CSV_COLUMNS: Final = (
    "enterprise_id",
    "credit_code",
    "name",
    "region_code",
    "province",
    "city",
    "industry_code",
    "industry",
    "latitude",
    "longitude",
    "size_class",
)
#: Share of enterprise-years without a reported figure (the planner falls back to energy use).
MISSING_REPORT_SHARE: Final = 0.10
#: Size classes by mean annual emissions (tCO2), largest first.
SIZE_CLASSES: Final = ((5_000_000.0, "very_large"), (1_000_000.0, "large"), (100_000.0, "medium"))

_CARRIERS: Final = tuple(CARRIER_COLUMNS)  # coal, natural_gas, oil, electricity, heat


@dataclass(frozen=True, slots=True)
class City:
    """A prefecture-level division (GB/T 2260 code) and its approximate centre."""

    code: int
    province: str
    city: str
    latitude: float
    longitude: float


#: Prefecture-level cities (and the four municipalities) with GB/T 2260 codes.
CITIES: Final[tuple[City, ...]] = (
    City(110100, "Beijing", "Beijing", 39.904, 116.407),
    City(120100, "Tianjin", "Tianjin", 39.084, 117.201),
    City(130100, "Hebei", "Shijiazhuang", 38.042, 114.515),
    City(130200, "Hebei", "Tangshan", 39.630, 118.180),
    City(130300, "Hebei", "Qinhuangdao", 39.935, 119.600),
    City(130400, "Hebei", "Handan", 36.625, 114.539),
    City(130500, "Hebei", "Xingtai", 37.070, 114.505),
    City(140100, "Shanxi", "Taiyuan", 37.870, 112.549),
    City(140200, "Shanxi", "Datong", 40.077, 113.300),
    City(140400, "Shanxi", "Changzhi", 36.195, 113.117),
    City(150100, "Inner Mongolia", "Hohhot", 40.842, 111.749),
    City(150200, "Inner Mongolia", "Baotou", 40.657, 109.840),
    City(150300, "Inner Mongolia", "Wuhai", 39.655, 106.795),
    City(150600, "Inner Mongolia", "Ordos", 39.608, 109.781),
    City(210100, "Liaoning", "Shenyang", 41.806, 123.432),
    City(210200, "Liaoning", "Dalian", 38.914, 121.615),
    City(210300, "Liaoning", "Anshan", 41.108, 122.994),
    City(220100, "Jilin", "Changchun", 43.817, 125.324),
    City(220200, "Jilin", "Jilin", 43.838, 126.550),
    City(230100, "Heilongjiang", "Harbin", 45.803, 126.535),
    City(230600, "Heilongjiang", "Daqing", 46.589, 125.104),
    City(310100, "Shanghai", "Shanghai", 31.230, 121.474),
    City(320100, "Jiangsu", "Nanjing", 32.060, 118.797),
    City(320200, "Jiangsu", "Wuxi", 31.491, 120.312),
    City(320300, "Jiangsu", "Xuzhou", 34.206, 117.285),
    City(320400, "Jiangsu", "Changzhou", 31.811, 119.974),
    City(320500, "Jiangsu", "Suzhou", 31.299, 120.585),
    City(320600, "Jiangsu", "Nantong", 31.980, 120.894),
    City(320700, "Jiangsu", "Lianyungang", 34.597, 119.222),
    City(330100, "Zhejiang", "Hangzhou", 30.274, 120.155),
    City(330200, "Zhejiang", "Ningbo", 29.868, 121.544),
    City(330300, "Zhejiang", "Wenzhou", 27.994, 120.699),
    City(330400, "Zhejiang", "Jiaxing", 30.746, 120.755),
    City(330600, "Zhejiang", "Shaoxing", 30.030, 120.580),
    City(330900, "Zhejiang", "Zhoushan", 29.985, 122.207),
    City(331000, "Zhejiang", "Taizhou", 28.656, 121.421),
    City(340100, "Anhui", "Hefei", 31.821, 117.227),
    City(340200, "Anhui", "Wuhu", 31.353, 118.433),
    City(340400, "Anhui", "Huainan", 32.626, 116.999),
    City(340500, "Anhui", "Ma'anshan", 31.670, 118.507),
    City(350100, "Fujian", "Fuzhou", 26.074, 119.296),
    City(350200, "Fujian", "Xiamen", 24.480, 118.089),
    City(350500, "Fujian", "Quanzhou", 24.874, 118.676),
    City(360100, "Jiangxi", "Nanchang", 28.682, 115.858),
    City(360400, "Jiangxi", "Jiujiang", 29.705, 116.001),
    City(370100, "Shandong", "Jinan", 36.651, 117.120),
    City(370200, "Shandong", "Qingdao", 36.067, 120.383),
    City(370300, "Shandong", "Zibo", 36.813, 118.055),
    City(370500, "Shandong", "Dongying", 37.434, 118.675),
    City(370600, "Shandong", "Yantai", 37.464, 121.448),
    City(370700, "Shandong", "Weifang", 36.707, 119.161),
    City(370800, "Shandong", "Jining", 35.415, 116.587),
    City(371100, "Shandong", "Rizhao", 35.417, 119.527),
    City(371300, "Shandong", "Linyi", 35.104, 118.356),
    City(371600, "Shandong", "Binzhou", 37.382, 117.971),
    City(410100, "Henan", "Zhengzhou", 34.747, 113.625),
    City(410300, "Henan", "Luoyang", 34.619, 112.454),
    City(410400, "Henan", "Pingdingshan", 33.766, 113.193),
    City(410500, "Henan", "Anyang", 36.098, 114.393),
    City(420100, "Hubei", "Wuhan", 30.593, 114.305),
    City(420200, "Hubei", "Huangshi", 30.200, 115.039),
    City(420500, "Hubei", "Yichang", 30.692, 111.287),
    City(430100, "Hunan", "Changsha", 28.228, 112.939),
    City(430200, "Hunan", "Zhuzhou", 27.828, 113.134),
    City(430300, "Hunan", "Xiangtan", 27.830, 112.945),
    City(440100, "Guangdong", "Guangzhou", 23.129, 113.264),
    City(440300, "Guangdong", "Shenzhen", 22.543, 114.058),
    City(440400, "Guangdong", "Zhuhai", 22.271, 113.577),
    City(440500, "Guangdong", "Shantou", 23.354, 116.682),
    City(440600, "Guangdong", "Foshan", 23.022, 113.122),
    City(440800, "Guangdong", "Zhanjiang", 21.271, 110.359),
    City(440900, "Guangdong", "Maoming", 21.663, 110.925),
    City(441300, "Guangdong", "Huizhou", 23.111, 114.416),
    City(441900, "Guangdong", "Dongguan", 23.021, 113.752),
    City(450100, "Guangxi", "Nanning", 22.817, 108.366),
    City(450200, "Guangxi", "Liuzhou", 24.326, 109.428),
    City(451000, "Guangxi", "Baise", 23.903, 106.618),
    City(460100, "Hainan", "Haikou", 20.044, 110.199),
    City(500100, "Chongqing", "Chongqing", 29.563, 106.551),
    City(510100, "Sichuan", "Chengdu", 30.573, 104.066),
    City(510400, "Sichuan", "Panzhihua", 26.580, 101.716),
    City(510600, "Sichuan", "Deyang", 31.127, 104.398),
    City(520100, "Guizhou", "Guiyang", 26.647, 106.630),
    City(520200, "Guizhou", "Liupanshui", 26.593, 104.830),
    City(530100, "Yunnan", "Kunming", 25.038, 102.718),
    City(530300, "Yunnan", "Qujing", 25.490, 103.796),
    City(610100, "Shaanxi", "Xi'an", 34.341, 108.940),
    City(610500, "Shaanxi", "Weinan", 34.500, 109.510),
    City(610800, "Shaanxi", "Yulin", 38.285, 109.734),
    City(620100, "Gansu", "Lanzhou", 36.061, 103.834),
    City(620200, "Gansu", "Jiayuguan", 39.773, 98.289),
    City(630100, "Qinghai", "Xining", 36.617, 101.778),
    City(640100, "Ningxia", "Yinchuan", 38.487, 106.231),
    City(640200, "Ningxia", "Shizuishan", 39.013, 106.384),
    City(650100, "Xinjiang", "Urumqi", 43.825, 87.617),
    City(650200, "Xinjiang", "Karamay", 45.580, 84.889),
    City(652300, "Xinjiang", "Changji", 44.011, 87.308),
)


@dataclass(frozen=True, slots=True)
class Sector:
    """How the generator draws enterprises of one GB/T 4754 class.

    Attributes:
        code: industry class; its name, output unit and benchmark come from the benchmark table.
        company: the trade word of company names (``"Power"``, ``"Cement"``).
        share: fraction of enterprises in the sector.
        median_output: median annual output of the first year, in the benchmark's unit.
        sigma: log-standard deviation of output (the tail's heaviness).
        mix: share of emissions per carrier (coal, natural gas, oil, electricity, heat).
        hubs: city code -> extra weight where the sector clusters (other cities weigh 1).
        alt_share: fraction of plants using ``alt_mix`` (e.g. gas-fired power plants).
        alt_mix: the alternative mix.
        alt_intensity: intensity of alternative plants relative to the benchmark.
        max_ratio: largest first-year output as a multiple of the median (tail cut-off).
    """

    code: str
    company: str
    share: float
    median_output: float
    sigma: float
    mix: tuple[float, float, float, float, float]
    hubs: Mapping[int, float] = field(default_factory=dict)
    alt_share: float = 0.0
    alt_mix: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)
    alt_intensity: float = 1.0
    max_ratio: float = 15.0


#: Covered sectors. Shares sum to 1.
SECTORS: Final[tuple[Sector, ...]] = (
    Sector(
        "D4411", "Power", 0.42, 1.2e6, 1.4, (0.955, 0.02, 0.005, 0.02, 0.0),
        {140100: 3, 140200: 3, 140400: 2, 150100: 2, 150600: 4, 370800: 2, 320300: 3,
         340400: 3, 610800: 3, 652300: 3, 410400: 2, 640100: 2},
        alt_share=0.12, alt_mix=(0.0, 0.96, 0.01, 0.03, 0.0), alt_intensity=0.48,
    ),
    Sector(
        "C3110", "Iron & Steel", 0.04, 1.2e6, 1.1, (0.85, 0.03, 0.01, 0.10, 0.01),
        {130200: 10, 130400: 6, 130100: 2, 210300: 5, 340500: 3, 510400: 3, 150200: 3,
         620200: 2, 410500: 2},
    ),
    Sector(
        "C3120", "Iron & Steel", 0.07, 1.5e6, 1.35, (0.80, 0.05, 0.01, 0.12, 0.02),
        {130200: 10, 130400: 6, 210300: 5, 340500: 3, 320200: 2, 420100: 3, 371100: 3,
         440800: 2, 430300: 2, 450200: 2, 370300: 2},
    ),
    Sector(
        "C3011", "Cement", 0.14, 0.8e6, 1.0, (0.90, 0.01, 0.02, 0.07, 0.0),
        {340200: 4, 370100: 2, 410100: 2, 520100: 2, 530300: 2, 450100: 2, 130100: 2},
    ),
    Sector(
        "C2511", "Petrochemical", 0.04, 4.0e6, 1.0, (0.25, 0.25, 0.30, 0.12, 0.08),
        {210200: 5, 330200: 5, 330900: 4, 440900: 4, 441300: 3, 370500: 6, 230600: 4,
         650200: 4, 620100: 3, 120100: 3, 310100: 3, 320100: 3},
    ),
    Sector(
        "C2614", "Chemical", 0.07, 2.0e5, 1.2, (0.35, 0.25, 0.10, 0.15, 0.15),
        {310100: 4, 320100: 4, 330200: 4, 370300: 3, 370500: 3, 441300: 3, 210200: 3,
         120100: 3, 610800: 3, 640100: 2},
    ),
    Sector(
        "C2211", "Pulp", 0.03, 2.0e5, 1.0, (0.45, 0.10, 0.05, 0.25, 0.15),
        {440800: 4, 350100: 2, 450100: 3, 370700: 2, 220200: 2, 530100: 2},
    ),
    Sector(
        "C2221", "Paper", 0.08, 1.2e5, 1.1, (0.35, 0.10, 0.02, 0.30, 0.23),
        {330400: 4, 330600: 3, 330100: 2, 320600: 3, 440100: 2, 441900: 3, 370700: 3,
         350500: 2},
    ),
    Sector(
        "C3216", "Aluminium", 0.04, 3.0e5, 0.9, (0.12, 0.03, 0.02, 0.83, 0.0),
        {371600: 8, 150200: 4, 150300: 3, 652300: 4, 410300: 3, 451000: 4, 530300: 3,
         640200: 2, 620200: 2, 520100: 2},
    ),
    Sector(
        "C3041", "Glass", 0.05, 2.5e5, 0.8, (0.20, 0.45, 0.20, 0.15, 0.0),
        {130500: 8, 420200: 2, 350100: 2, 370300: 2, 320600: 1, 440100: 1},
    ),
    Sector(
        "G5611", "Airlines", 0.02, 3.0e4, 1.8, (0.0, 0.0, 0.98, 0.02, 0.0),
        {110100: 5, 310100: 5, 440100: 4, 440300: 3, 510100: 3, 500100: 2, 530100: 2,
         610100: 2, 460100: 2, 330100: 2, 350200: 2, 370200: 2},
        max_ratio=100.0,
    ),
)  # fmt: skip

#: Pinyin trade names for company names.
BRANDS: Final = (
    "Huaneng", "Datang", "Huadian", "Guoneng", "Jinneng", "Hengyuan", "Xinhua", "Zhongxin",
    "Hongda", "Jinlong", "Tianrui", "Ruifeng", "Shengli", "Yongsheng", "Dongfang", "Xinghai",
    "Changjiang", "Huaxin", "Hengtong", "Longsheng", "Jiahe", "Fuxing", "Minsheng", "Taihe",
    "Hongyun", "Jintai", "Baoli", "Huarun", "Zhongtian", "Xinyuan", "Kaiyuan", "Jianfeng",
    "Haixin", "Dingsheng", "Shunda", "Huafeng", "Yuantong", "Chenguang", "Tongda", "Lianhe",
    "Jinye", "Guangming", "Wanfeng", "Xiangyun", "Ronghua", "Jixiang", "Qiming", "Antai",
    "Hexin", "Shenghong", "Boyuan", "Huayang", "Zhengda", "Yida", "Lihua", "Zhongyuan",
    "Taishan", "Kunlun", "Tianshan", "Qilu",
)  # fmt: skip

_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)


@dataclass(frozen=True, slots=True)
class SampleEnterprise:
    """One enterprise of the synthetic consortium (a row of enterprises.csv)."""

    enterprise_id: str
    credit_code: str
    name: str
    region_code: int
    province: str
    city: str
    industry_code: str
    industry: str
    latitude: float
    longitude: float
    size_class: str


@dataclass(frozen=True, slots=True)
class SampleConsortium:
    """Enterprises and their yearly histories, ready for :func:`chain.allocation.plan`.

    Attributes:
        enterprises: the enterprises, in id order.
        histories: one history per enterprise, in the same order.
        seed: the seed it was generated from.
    """

    enterprises: tuple[SampleEnterprise, ...]
    histories: tuple[EnterpriseHistory, ...]
    seed: int


def organisation_code_check_char(first8: str) -> str:
    """The check character of a GB 11714 organisation code (digits/capitals, 8 characters).

    Raises:
        InvalidInputError: wrong length or a character that is not a digit or capital letter.
    """
    if len(first8) != 8 or not all(c.isdigit() or "A" <= c <= "Z" for c in first8):
        raise InvalidInputError(f"organisation code body {first8!r} must be 8 digits/capitals")
    total = sum(int(c, 36) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else ("0" if check == 11 else str(check))


def generate_enterprises(
    n: int = 2162, years: int = 10, *, seed: int = 2027, last_year: int = 2026
) -> SampleConsortium:
    """Generate a synthetic consortium: enterprises and ``years`` years of history each.

    Deterministic for a given seed. Sizes are lognormal per sector (a few huge power plants
    and steel mills, many small plants); each enterprise has its sector's energy mix, an
    intensity near the sector benchmark, an output trend (mostly slight declines) and noise.
    About :data:`MISSING_REPORT_SHARE` of enterprise-years have no reported figure.

    Args:
        n: number of enterprises (2,162: the power companies of the national ETS's first
            compliance cycle).
        years: years of history per enterprise (3 to 10).
        seed: random seed.
        last_year: the last year of history.

    Raises:
        InvalidInputError: ``n`` < 1 or ``years`` outside 3..10.
    """
    if n < 1:
        raise InvalidInputError(f"n must be at least 1, got {n}")
    if not MIN_YEARS <= years <= MAX_YEARS:
        raise InvalidInputError(f"years must be {MIN_YEARS} to {MAX_YEARS}, got {years}")
    rng = np.random.default_rng(seed)
    factors = EmissionFactors.default()
    benchmarks = Benchmarks.default()
    factor_vector = np.array([factors[c] for c in _CARRIERS])

    shares = np.array([s.share for s in SECTORS])
    sector_of = rng.choice(len(SECTORS), size=n, p=shares / shares.sum())
    city_of = np.empty(n, dtype=np.int64)
    for index, sector in enumerate(SECTORS):
        members = np.flatnonzero(sector_of == index)
        weights = np.array([1.0 + sector.hubs.get(c.code, 0.0) for c in CITIES])
        city_of[members] = rng.choice(len(CITIES), size=members.size, p=weights / weights.sum())

    median = np.array([SECTORS[s].median_output for s in sector_of])
    sigma = np.array([SECTORS[s].sigma for s in sector_of])
    base_output = median * np.exp(sigma * rng.standard_normal(n))
    ceiling = median * np.array([SECTORS[s].max_ratio for s in sector_of])
    base_output = np.clip(base_output, 0.05 * median, ceiling)
    alt = rng.random(n) < np.array([SECTORS[s].alt_share for s in sector_of])
    bench = np.array([benchmarks[SECTORS[s].code].intensity for s in sector_of])
    relative = np.where(alt, [SECTORS[s].alt_intensity for s in sector_of], 1.0)
    intensity = bench * relative * np.exp(0.06 + 0.08 * rng.standard_normal(n))
    growth = np.clip(rng.normal(-0.005, 0.03, n), -0.12, 0.10)
    improvement = np.clip(rng.normal(-0.012, 0.008, n), -0.05, 0.01)
    mix = np.array([SECTORS[s].alt_mix if a else SECTORS[s].mix for s, a in zip(sector_of, alt, strict=True)])
    mix = mix * np.exp(0.25 * rng.standard_normal(mix.shape))
    mix /= mix.sum(axis=1, keepdims=True)

    t = np.arange(years)
    output = (
        base_output[:, None] * (1 + growth[:, None]) ** t * np.exp(0.04 * rng.standard_normal((n, years)))
    )
    year_intensity = (
        intensity[:, None] * (1 + improvement[:, None]) ** t * np.exp(0.015 * rng.standard_normal((n, years)))
    )
    emissions = output * year_intensity
    year_mix = mix[:, None, :] * np.exp(0.05 * rng.standard_normal((n, years, len(_CARRIERS))))
    year_mix /= year_mix.sum(axis=2, keepdims=True)
    quantities = np.round(emissions[:, :, None] * year_mix / factor_vector, 3)
    energy = (quantities * factor_vector).sum(axis=2)
    reported = np.round(energy * (1 + 0.01 * rng.standard_normal((n, years))), 3)
    missing = rng.random((n, years)) < MISSING_REPORT_SHARE
    output = np.round(output, 3)
    jitter = np.clip(rng.normal(0.0, 0.25, (n, 2)), -0.6, 0.6)
    brand_of = rng.integers(len(BRANDS), size=n)

    first_year = last_year - years + 1
    width = max(4, len(str(n)))
    codes = _credit_codes(rng, [CITIES[c].code for c in city_of.tolist()])
    mean_emissions = energy.mean(axis=1)
    quantity_rows: list[list[list[float]]] = quantities.tolist()
    output_rows: list[list[float]] = output.tolist()
    reported_rows: list[list[float]] = reported.tolist()
    missing_rows: list[list[bool]] = missing.tolist()

    names: set[str] = set()
    enterprises: list[SampleEnterprise] = []
    histories: list[EnterpriseHistory] = []
    for i in range(n):
        sector = SECTORS[int(sector_of[i])]
        bench_entry = benchmarks[sector.code]
        city = CITIES[int(city_of[i])]
        enterprise_id = f"E{i + 1:0{width}d}"
        enterprises.append(
            SampleEnterprise(
                enterprise_id=enterprise_id,
                credit_code=codes[i],
                name=_unique_name(city, sector.company, int(brand_of[i]), names),
                region_code=city.code,
                province=city.province,
                city=city.city,
                industry_code=sector.code,
                industry=bench_entry.industry,
                latitude=round(city.latitude + float(jitter[i, 0]), 6),
                longitude=round(city.longitude + float(jitter[i, 1]), 6),
                size_class=_size_class(float(mean_emissions[i])),
            )
        )
        records = tuple(
            YearRecord(
                enterprise_id=enterprise_id,
                year=first_year + k,
                coal_t=q[0],
                natural_gas_km3=q[1],
                oil_t=q[2],
                electricity_mwh=q[3],
                heat_gj=q[4],
                output=output_rows[i][k],
                output_unit=bench_entry.output_unit,
                reported_co2_t=None if missing_rows[i][k] else reported_rows[i][k],
            )
            for k, q in enumerate(quantity_rows[i])
        )
        histories.append(EnterpriseHistory(enterprise_id, records, city.code, sector.code))
    logger.info("sample consortium generated", extra={"enterprises": n, "years": years, "seed": seed})
    return SampleConsortium(tuple(enterprises), tuple(histories), seed)


def _credit_codes(rng: np.random.Generator, regions: list[int]) -> list[str]:
    """Distinct credit codes: ``91`` + region + GB 11714 organisation code + check character."""
    charset = CREDIT_CODE_CHARSET
    used: set[str] = set()
    codes: list[str] = []
    draws: NDArray[np.int64] = rng.integers(len(charset), size=(len(regions), 8))
    for region, draw in zip(regions, draws.tolist(), strict=True):
        body = "".join(charset[d] for d in draw)
        while body in used:  # astronomically rare; redraw deterministically
            body = "".join(charset[d] for d in rng.integers(len(charset), size=8).tolist())
        used.add(body)
        first17 = f"91{region:06d}{body}{organisation_code_check_char(body)}"
        codes.append(first17 + credit_code_check_char(first17))
    return codes


def _unique_name(city: City, company: str, brand: int, taken: set[str]) -> str:
    place = city.city if city.province == city.city else f"{city.province} {city.city}"
    for attempt in range(len(BRANDS) * 10):
        word = BRANDS[(brand + attempt) % len(BRANDS)]
        number = attempt // len(BRANDS)
        label = f"{word} No. {number + 1}" if number else word
        name = f"{place} {label} {company} Co., Ltd."
        if name not in taken:
            taken.add(name)
            return name
    raise InvalidInputError(f"cannot find a free company name in {city.city}")  # pragma: no cover


def _size_class(mean_emissions: float) -> str:
    for threshold, label in SIZE_CLASSES:
        if mean_emissions >= threshold:
            return label
    return "small"


def _number(value: float | None) -> str:
    return "" if value is None else repr(value)


def write_sample(consortium: SampleConsortium, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``enterprises.csv`` and ``history.csv`` into ``out_dir`` (created if needed).

    Floats are written so that :func:`chain.allocation.load_history` reads back exactly the
    values in ``consortium``.

    Returns:
        The paths of enterprises.csv and history.csv.
    """
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    enterprises_path = directory / "enterprises.csv"
    history_path = directory / "history.csv"
    with enterprises_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(ENTERPRISE_CSV_COLUMNS)
        for e in consortium.enterprises:
            writer.writerow(
                [
                    e.enterprise_id,
                    e.credit_code,
                    e.name,
                    e.region_code,
                    e.province,
                    e.city,
                    e.industry_code,
                    e.industry,
                    f"{e.latitude:.6f}",
                    f"{e.longitude:.6f}",
                    e.size_class,
                ]
            )
    with history_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HISTORY_COLUMNS)
        for history in consortium.histories:
            for r in history.records:
                writer.writerow(
                    [
                        r.enterprise_id,
                        r.year,
                        _number(r.coal_t),
                        _number(r.natural_gas_km3),
                        _number(r.oil_t),
                        _number(r.electricity_mwh),
                        _number(r.heat_gj),
                        _number(r.output),
                        r.output_unit,
                        _number(r.reported_co2_t),
                    ]
                )
    logger.info(
        "sample written",
        extra={"path": str(directory), "enterprises": len(consortium.enterprises)},
    )
    return enterprises_path, history_path


# --------------------------------------------------------------------------- monthly energy

#: Relative monthly energy use, January first, by carrier. Industry dips in February (Spring
#: Festival); electricity peaks with summer cooling; natural gas and heat follow the winter
#: heating season. ``heat_north`` / ``natural_gas_north`` apply north of the Qinling-Huai line
#: (:data:`HEATING_LATITUDE`), where district heating runs from mid-November to mid-March.
SEASONAL_PROFILES: Final[Mapping[str, tuple[float, ...]]] = {
    "coal": (1.10, 0.90, 0.98, 0.94, 0.96, 1.00, 1.08, 1.10, 0.98, 0.95, 0.97, 1.04),
    "natural_gas": (1.10, 0.95, 1.00, 0.96, 0.95, 0.95, 0.98, 0.98, 0.96, 0.98, 1.04, 1.15),
    "natural_gas_north": (1.30, 1.12, 1.05, 0.88, 0.80, 0.78, 0.80, 0.80, 0.84, 0.92, 1.16, 1.35),
    "oil": (0.98, 0.90, 0.98, 0.99, 1.01, 1.03, 1.07, 1.08, 1.01, 1.02, 0.96, 0.97),
    "electricity": (1.02, 0.86, 1.00, 0.97, 1.00, 1.04, 1.11, 1.12, 1.00, 0.96, 0.95, 0.97),
    "heat": (1.08, 0.95, 1.00, 0.98, 0.97, 0.98, 1.00, 1.00, 0.98, 0.99, 1.00, 1.07),
    "heat_north": (1.55, 1.35, 1.10, 0.75, 0.62, 0.60, 0.60, 0.60, 0.65, 0.78, 1.25, 1.55),
}  # fmt: skip
#: Latitude (degrees north) from which an enterprise gets the northern heating profiles.
HEATING_LATITUDE: Final = 33.0


def monthly_energy(consortium: SampleConsortium, *, seed: int | None = None) -> list[MonthlyEnergy]:
    """Split each sample enterprise-year's energy use into months by a seasonal profile.

    Each carrier follows :data:`SEASONAL_PROFILES` (the northern heating profiles for
    enterprises at or above :data:`HEATING_LATITUDE`) with about 4 % month-to-month noise. Months
    are rounded to 3 decimals and December takes the remainder, so the twelve months add up to
    the annual figure. Deterministic for a given seed.

    Args:
        consortium: the sample consortium (:func:`generate_enterprises`).
        seed: random seed (default: the consortium's).

    Returns:
        Rows by enterprise, year and month (:class:`chain.production.MonthlyEnergy`).
    """
    rng = np.random.default_rng(consortium.seed if seed is None else seed)
    rows: list[MonthlyEnergy] = []
    for enterprise, history in zip(consortium.enterprises, consortium.histories, strict=True):
        north = enterprise.latitude >= HEATING_LATITUDE
        profile = np.array(
            [
                SEASONAL_PROFILES[f"{c}_north" if north and f"{c}_north" in SEASONAL_PROFILES else c]
                for c in _CARRIERS
            ]
        )
        for record in history.records:
            weights = profile * np.exp(0.04 * rng.standard_normal(profile.shape))
            weights /= weights.sum(axis=1, keepdims=True)
            split: dict[str, list[float]] = {}
            for k, carrier in enumerate(_CARRIERS):
                annual = record.quantity(carrier)
                months = [round(annual * w, 3) for w in weights[k, :11].tolist()]
                months.append(max(0.0, round(annual - sum(months), 3)))
                split[carrier] = months
            rows.extend(
                MonthlyEnergy(
                    enterprise_id=record.enterprise_id,
                    address=None,
                    year=record.year,
                    month=m + 1,
                    quantities={c: split[c][m] for c in _CARRIERS},
                )
                for m in range(12)
            )
    logger.info("sample monthly energy generated", extra={"rows": len(rows)})
    return rows


def write_monthly_sample(
    consortium: SampleConsortium, out_dir: str | Path, *, seed: int | None = None
) -> Path:
    """Write ``monthly_energy.csv`` (:func:`monthly_energy`) into ``out_dir``; returns its path."""
    return write_monthly_energy(monthly_energy(consortium, seed=seed), Path(out_dir) / "monthly_energy.csv")


def sample_account(credit_code: str) -> Signer:
    """Deterministic demo key of a sample enterprise (public derivation: demo and benchmarks only)."""
    return seeded_account(f"ets-sample-enterprise:{credit_code}")


def sample_profile(e: SampleEnterprise) -> EnterpriseProfile:
    """Registry profile of a sample enterprise."""
    return EnterpriseProfile.from_degrees(
        credit_code=e.credit_code, name=e.name[:200], region_code=e.region_code,
        industry_code=e.industry_code, latitude=e.latitude, longitude=e.longitude,
    )  # fmt: skip


# --------------------------------------------------------------------------- account records

#: The central state-owned power groups among :data:`BRANDS`: their power plants belong to the
#: group and the State Council's SASAC is the actual controller of them all.
CENTRAL_POWER_GROUPS: Final[Mapping[str, str]] = {
    "Huaneng": "China Huaneng Group Co., Ltd.",
    "Datang": "China Datang Corporation Ltd.",
    "Huadian": "China Huadian Corporation Ltd.",
    "Guoneng": "China Energy Investment Corporation",
}
#: The State Council's State-owned Assets Supervision and Administration Commission.
CENTRAL_SASAC: Final = "SASAC of the State Council"
_SURNAMES: Final = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Xu", "Sun",
                    "Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Luo", "Gao")  # fmt: skip
_GIVEN: Final = ("Wei", "Fang", "Jianguo", "Min", "Jing", "Lei", "Jun", "Yong", "Yan", "Jie", "Tao", "Ming",
                 "Chao", "Xiuying", "Hua", "Ping", "Gang", "Guiying", "Qiang", "Hong")  # fmt: skip
#: The demo enterprises' records (demo accounts ``enterprise-1`` .. ``-6``): enterprise-1 (a
#: Taizhou power plant) and enterprise-2 (a Taizhou paper mill) belong to one local group with one
#: controller; the others stand on their own, each with its own controller.
DEMO_ACCOUNT_RECORDS: Final = (
    ("enterprise-1", "Taizhou Jiaojiang Industrial Group Co., Ltd.", "Chen Jianguo"),
    ("enterprise-2", "Taizhou Jiaojiang Industrial Group Co., Ltd.", "Chen Jianguo"),
    ("enterprise-3", "Ningbo Beilun Port & Steel Group Co., Ltd.", "Ningbo Municipal SASAC"),
    ("enterprise-4", "", "Shen Guoqiang"),
    ("enterprise-5", "", "Shaoxing Shangyu District SASAC"),
    ("enterprise-6", "Zhejiang Provincial Energy Group Co., Ltd.", "Zhejiang Provincial SASAC"),
)


def _brand(e: SampleEnterprise) -> str:
    return next((b for b in BRANDS if f" {b} " in f" {e.name} "), "")


def sample_account_records(consortium: SampleConsortium) -> list[AccountRecord]:
    """The exchange's account records of the sample enterprises (their :func:`sample_account`
    addresses), as an exchange would hold them after know-your-customer checks at opening.

    Power plants of a central power brand (:data:`CENTRAL_POWER_GROUPS`) belong to that group,
    controlled by :data:`CENTRAL_SASAC`; other enterprises sharing a trade name in one province
    form a local group with one private controller; the rest stand alone, each with its own
    controller. Deterministic (names drawn from the credit codes, never shared by accident).
    """

    def central(e: SampleEnterprise) -> bool:
        return _brand(e) in CENTRAL_POWER_GROUPS and e.industry_code == "D4411"

    members: dict[tuple[str, str], list[SampleEnterprise]] = {}
    for e in consortium.enterprises:
        if not central(e):
            members.setdefault((e.province, _brand(e)), []).append(e)
    used: set[str] = set()

    def person(seed: str) -> str:
        n = int.from_bytes(seed.encode()[-6:], "big")
        for k in range(len(_SURNAMES) * len(_GIVEN) * 10):
            pick = n + k * 7919
            name = f"{_SURNAMES[pick % len(_SURNAMES)]} {_GIVEN[(pick // len(_SURNAMES)) % len(_GIVEN)]}"
            name = name if k < len(_SURNAMES) * len(_GIVEN) else f"{name} ({k})"
            if name not in used:
                used.add(name)
                return name
        raise InvalidInputError("no free controller name")  # pragma: no cover

    records: list[AccountRecord] = []
    local: dict[tuple[str, str], tuple[str, str]] = {}
    for e in consortium.enterprises:
        account = sample_account(e.credit_code).address
        brand = _brand(e)
        if central(e):
            records.append(AccountRecord(account, CENTRAL_POWER_GROUPS[brand], CENTRAL_SASAC))
        elif brand and len(members[e.province, brand]) > 1:
            key = (e.province, brand)
            if key not in local:
                local[key] = (f"{e.province} {brand} Holdings Co., Ltd.", person(e.credit_code))
            records.append(AccountRecord(account, *local[key]))
        else:
            records.append(AccountRecord(account, None, person(e.credit_code)))
    return records


def demo_account_records() -> list[AccountRecord]:
    """:data:`DEMO_ACCOUNT_RECORDS` with the demo accounts' addresses."""
    return [AccountRecord(demo_account(name).address, group or None, controller)
            for name, group, controller in DEMO_ACCOUNT_RECORDS]  # fmt: skip


def write_account_records(records: Sequence[AccountRecord], path: str | Path) -> Path:
    """Write ``account,group,controller`` CSV (``ets market records import`` reads it); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(RECORD_COLUMNS)
        for r in records:
            writer.writerow([r.account, r.group or "", r.controller or ""])
    return target


def write_demo_account_records(consortium: SampleConsortium, out_dir: str | Path) -> Path:
    """``account_records.csv`` in ``out_dir``: the demo enterprises' and the sample's records."""
    records = [*demo_account_records(), *sample_account_records(consortium)]
    return write_account_records(records, Path(out_dir) / "account_records.csv")
