// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RegistryGated} from "../access/RegistryGated.sol";
import {IAllowanceToken} from "../interfaces/IAllowanceToken.sol";
import {ITotalControlPlans} from "../interfaces/ITotalControlPlans.sol";
import {Roles} from "../libraries/Roles.sol";
import {Kind, TokenId, TokenIdLib} from "../types/TokenId.sol";

/// @title TotalControlPlans
/// @notice Five-year and annual total-amount control plans; caps executed from adopted annual
/// plans. See {ITotalControlPlans}.
contract TotalControlPlans is ITotalControlPlans, RegistryGated {
    uint16 private constant BPS = 10_000;
    uint16 private constant YEARS = 5;
    uint32 private constant REGION_MIN = 110_000;
    uint32 private constant REGION_MAX = 999_999;

    IAllowanceToken private immutable _token;
    uint256 private _count;
    mapping(uint256 planId => PlanHeader) private _headers;
    mapping(uint256 planId => PollutantPath[]) private _paths;
    mapping(uint256 planId => RegionShare[]) private _regions;
    mapping(uint256 planId => RegionCap[]) private _caps;
    mapping(uint256 planId => EnterpriseTarget[]) private _targets;
    mapping(uint256 planId => mapping(uint8 pollutant => uint256)) private _totals;
    mapping(uint16 year => uint256 planId) private _currentAnnual;
    mapping(uint16 startYear => uint256 planId) private _currentFiveYear;
    mapping(uint256 tokenId => uint256 planId) private _capPlan;

    /// @param registry_ The ConsortiumRegistry.
    /// @param token_ The AllowanceToken whose caps the plans set.
    constructor(address registry_, address token_) RegistryGated(registry_) {
        _token = IAllowanceToken(token_);
    }

    // ------------------------------------------------------------------ regulator

    /// @inheritdoc ITotalControlPlans
    function draftFiveYearPlan(FiveYearPlanInput calldata p)
        external
        onlyRegistryRole(Roles.REGULATOR_ROLE)
        returns (uint256 planId)
    {
        if (p.baseYear >= p.startYear || p.startYear > type(uint16).max - (YEARS - 1)) {
            revert PlanInvalidPeriod(p.startYear, p.baseYear);
        }
        planId = ++_count;
        uint32 version = _checkSupersedes(planId, p.supersedes, PlanKind.FiveYear, p.startYear);
        uint256 n = p.pollutants.length;
        if (n == 0) revert PlanInvalidPollutant(0);
        for (uint256 i = 0; i < n; ++i) {
            PollutantPath calldata line = p.pollutants[i];
            _requireNewPollutant(line.pollutant, p.pollutants, i);
            if (line.targetBps > BPS) revert PlanInvalidBps(line.pollutant, line.targetBps);
            uint256 allowed = line.baseEmissions * (BPS - line.targetBps) / BPS;
            // Compared as path × 10,000 ≤ base × (10,000 − target): exact, no rounding.
            if (line.path[YEARS - 1] * BPS > line.baseEmissions * (BPS - line.targetBps)) {
                revert PlanTargetMissed(line.pollutant, line.path[YEARS - 1], allowed);
            }
            _paths[planId].push(line);
        }
        uint256 m = p.regions.length;
        if (m == 0) revert PlanRegionSharesInvalid(0);
        uint256 total;
        for (uint256 i = 0; i < m; ++i) {
            RegionShare calldata r = p.regions[i];
            if (r.region < REGION_MIN || r.region > REGION_MAX || r.shareBps == 0) revert PlanInvalidRegion(r.region);
            for (uint256 j = 0; j < i; ++j) {
                if (p.regions[j].region == r.region) revert PlanInvalidRegion(r.region);
            }
            total += r.shareBps;
            _regions[planId].push(r);
        }
        if (total != BPS) revert PlanRegionSharesInvalid(total);
        uint16 endYear = p.startYear + (YEARS - 1);
        _headers[planId] = PlanHeader({
            kind: PlanKind.FiveYear,
            status: PlanStatus.Draft,
            version: version,
            supersedes: p.supersedes,
            supersededBy: 0,
            fiveYearPlanId: 0,
            startYear: p.startYear,
            endYear: endYear,
            baseYear: p.baseYear,
            documentHash: p.documentHash,
            uri: p.uri,
            drafter: msg.sender
        });
        emit PlanDrafted(planId, PlanKind.FiveYear, version, p.supersedes, p.startYear, endYear);
        emit FiveYearPlanContent(planId, p);
    }

    /// @inheritdoc ITotalControlPlans
    function draftAnnualPlan(AnnualPlanInput calldata p)
        external
        onlyRegistryRole(Roles.REGULATOR_ROLE)
        returns (uint256 planId)
    {
        uint256 fiveId = p.fiveYearPlanId;
        PlanHeader storage five = _headers[fiveId];
        if (five.kind != PlanKind.FiveYear) revert PlanNotFound(fiveId);
        if (five.status != PlanStatus.Adopted) revert PlanFiveYearNotAdopted(fiveId);
        if (p.year < five.startYear || p.year > five.endYear) revert PlanYearNotCovered(fiveId, p.year);
        planId = ++_count;
        uint32 version = _checkSupersedes(planId, p.supersedes, PlanKind.Annual, p.year);
        uint256 n = p.caps.length;
        if (n == 0) revert PlanInvalidPollutant(0);
        for (uint256 i = 0; i < n; ++i) {
            RegionCap calldata line = p.caps[i];
            if (_pathIndex(fiveId, line.pollutant) == type(uint256).max) revert PlanInvalidPollutant(line.pollutant);
            if (!_hasRegion(fiveId, line.region)) revert PlanInvalidRegion(line.region);
            for (uint256 j = 0; j < i; ++j) {
                if (p.caps[j].pollutant == line.pollutant && p.caps[j].region == line.region) {
                    revert PlanInvalidRegion(line.region);
                }
            }
            if (line.reserveShareBps > BPS) revert PlanInvalidBps(line.pollutant, line.reserveShareBps);
            _totals[planId][line.pollutant] += line.cap;
            _caps[planId].push(line);
        }
        for (uint256 i = 0; i < n; ++i) {
            uint8 pollutant = p.caps[i].pollutant;
            uint256 total = _totals[planId][pollutant];
            uint256 path = _pathOf(fiveId, pollutant, p.year);
            if (total > path) revert PlanAboveFiveYearPath(planId, pollutant, p.year, total, path);
        }
        for (uint256 i = 0; i < p.targets.length; ++i) {
            EnterpriseTarget calldata t = p.targets[i];
            if (_pathIndex(fiveId, t.pollutant) == type(uint256).max) revert PlanInvalidPollutant(t.pollutant);
            if (t.targetBps > BPS) revert PlanInvalidBps(t.pollutant, t.targetBps);
            _targets[planId].push(t);
        }
        _headers[planId] = PlanHeader({
            kind: PlanKind.Annual,
            status: PlanStatus.Draft,
            version: version,
            supersedes: p.supersedes,
            supersededBy: 0,
            fiveYearPlanId: fiveId,
            startYear: p.year,
            endYear: p.year,
            baseYear: five.baseYear,
            documentHash: p.documentHash,
            uri: p.uri,
            drafter: msg.sender
        });
        emit PlanDrafted(planId, PlanKind.Annual, version, p.supersedes, p.year, p.year);
        emit AnnualPlanContent(planId, p);
    }

    /// @inheritdoc ITotalControlPlans
    function executeCap(uint256 annualPlanId, uint8 pollutant)
        external
        onlyRegistryRole(Roles.REGULATOR_ROLE)
        returns (uint256 cap)
    {
        PlanHeader storage h = _headers[annualPlanId];
        if (h.kind != PlanKind.Annual) revert PlanNotFound(annualPlanId);
        uint16 year = h.startYear;
        if (h.status != PlanStatus.Adopted || _currentAnnual[year] != annualPlanId) revert PlanNotCurrent(annualPlanId);
        cap = _totals[annualPlanId][pollutant];
        if (cap == 0 && !_capsPollutant(annualPlanId, pollutant)) revert PlanPollutantNotInPlan(annualPlanId, pollutant);
        uint256 tokenId = TokenId.unwrap(TokenIdLib.encode(Kind.Allowance, pollutant, year));
        _capPlan[tokenId] = annualPlanId;
        emit CapExecuted(annualPlanId, tokenId, cap);
        _token.setCap(tokenId, cap);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc ITotalControlPlans
    function adopt(uint256 planId) external onlyGovernance {
        PlanHeader storage h = _headers[planId];
        if (h.kind == PlanKind.None) revert PlanNotFound(planId);
        if (h.status != PlanStatus.Draft) revert PlanAlreadyAdopted(planId);
        bool annual = h.kind == PlanKind.Annual;
        if (annual && _headers[h.fiveYearPlanId].status != PlanStatus.Adopted) {
            revert PlanFiveYearNotAdopted(h.fiveYearPlanId);
        }
        uint16 period = h.startYear;
        uint256 current = annual ? _currentAnnual[period] : _currentFiveYear[period];
        uint256 old = h.supersedes;
        if (old != 0) {
            if (current != old) revert PlanSupersedesInvalid(planId, old);
            _headers[old].status = PlanStatus.Superseded;
            _headers[old].supersededBy = planId;
        } else if (current != 0) {
            revert PlanPeriodTaken(period, current);
        }
        h.status = PlanStatus.Adopted;
        if (annual) _currentAnnual[period] = planId;
        else _currentFiveYear[period] = planId;
        emit PlanAdopted(planId, h.kind, period);
        if (old != 0) emit PlanSuperseded(old, planId);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ITotalControlPlans
    function allowanceToken() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc ITotalControlPlans
    function planCount() external view returns (uint256) {
        return _count;
    }

    /// @inheritdoc ITotalControlPlans
    function plan(uint256 planId) external view returns (PlanHeader memory) {
        return _headers[planId];
    }

    /// @inheritdoc ITotalControlPlans
    function pollutantPaths(uint256 planId) external view returns (PollutantPath[] memory) {
        return _paths[planId];
    }

    /// @inheritdoc ITotalControlPlans
    function regionShares(uint256 planId) external view returns (RegionShare[] memory) {
        return _regions[planId];
    }

    /// @inheritdoc ITotalControlPlans
    function pathOf(uint256 planId, uint8 pollutant, uint16 year) external view returns (uint256) {
        return _pathOf(planId, pollutant, year);
    }

    /// @inheritdoc ITotalControlPlans
    function regionCaps(uint256 planId) external view returns (RegionCap[] memory) {
        return _caps[planId];
    }

    /// @inheritdoc ITotalControlPlans
    function enterpriseTargets(uint256 planId) external view returns (EnterpriseTarget[] memory) {
        return _targets[planId];
    }

    /// @inheritdoc ITotalControlPlans
    function totalOf(uint256 planId, uint8 pollutant) external view returns (uint256) {
        return _totals[planId][pollutant];
    }

    /// @inheritdoc ITotalControlPlans
    function currentAnnualPlan(uint16 year) external view returns (uint256) {
        return _currentAnnual[year];
    }

    /// @inheritdoc ITotalControlPlans
    function currentFiveYearPlan(uint16 startYear) external view returns (uint256) {
        return _currentFiveYear[startYear];
    }

    /// @inheritdoc ITotalControlPlans
    function capPlanOf(uint256 tokenId) external view returns (uint256) {
        return _capPlan[tokenId];
    }

    // ------------------------------------------------------------------ internal

    /// @dev The version of a new plan `planId` superseding `old` (1 when `old` is 0); `old` must be
    /// the current adopted plan of the same kind and period.
    function _checkSupersedes(uint256 planId, uint256 old, PlanKind kind, uint16 period)
        private
        view
        returns (uint32)
    {
        if (old == 0) return 1;
        PlanHeader storage o = _headers[old];
        uint256 current = kind == PlanKind.Annual ? _currentAnnual[period] : _currentFiveYear[period];
        if (o.kind != kind || o.startYear != period || current != old) revert PlanSupersedesInvalid(planId, old);
        return o.version + 1;
    }

    function _requireNewPollutant(uint8 pollutant, PollutantPath[] calldata lines, uint256 i) private pure {
        if (pollutant == 0) revert PlanInvalidPollutant(0);
        for (uint256 j = 0; j < i; ++j) {
            if (lines[j].pollutant == pollutant) revert PlanInvalidPollutant(pollutant);
        }
    }

    function _pathIndex(uint256 planId, uint8 pollutant) private view returns (uint256) {
        PollutantPath[] storage lines = _paths[planId];
        for (uint256 i = 0; i < lines.length; ++i) {
            if (lines[i].pollutant == pollutant) return i;
        }
        return type(uint256).max;
    }

    function _pathOf(uint256 planId, uint8 pollutant, uint16 year) private view returns (uint256) {
        PlanHeader storage h = _headers[planId];
        if (h.kind != PlanKind.FiveYear || year < h.startYear || year > h.endYear) return 0;
        uint256 i = _pathIndex(planId, pollutant);
        if (i == type(uint256).max) return 0;
        return _paths[planId][i].path[year - h.startYear];
    }

    function _hasRegion(uint256 planId, uint32 region) private view returns (bool) {
        RegionShare[] storage rs = _regions[planId];
        for (uint256 i = 0; i < rs.length; ++i) {
            if (rs[i].region == region) return true;
        }
        return false;
    }

    function _capsPollutant(uint256 planId, uint8 pollutant) private view returns (bool) {
        RegionCap[] storage lines = _caps[planId];
        for (uint256 i = 0; i < lines.length; ++i) {
            if (lines[i].pollutant == pollutant) return true;
        }
        return false;
    }
}
