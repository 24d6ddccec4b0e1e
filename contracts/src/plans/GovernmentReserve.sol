// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {RegistryGated} from "../access/RegistryGated.sol";
import {IAllowanceToken} from "../interfaces/IAllowanceToken.sol";
import {IGovernmentReserve} from "../interfaces/IGovernmentReserve.sol";
import {ITotalControlPlans} from "../interfaces/ITotalControlPlans.sol";
import {Roles} from "../libraries/Roles.sol";
import {TreasuryHolder} from "../treasury/TreasuryHolder.sol";
import {Kind, TokenId, TokenIdLib} from "../types/TokenId.sol";

/// @title GovernmentReserve
/// @notice The government reserve of allowances: fed by annual plans' reserve shares,
/// confiscations and closures; paid allocations to new or expanded projects at the guide price.
/// See {IGovernmentReserve}.
contract GovernmentReserve is IGovernmentReserve, TreasuryHolder, ERC1155Holder, ReentrancyGuard {
    using SafeERC20 for IERC20;

    uint16 private constant BPS = 10_000;
    /// China Standard Time (UTC+8): the calendar year of a closure's "current" vintage.
    uint256 private constant CST_OFFSET = 8 hours;

    IAllowanceToken private immutable _token;
    IERC20 private immutable _cash;
    ITotalControlPlans private _plans;
    uint256 private _offerCount;
    uint256 private _closureCount;
    mapping(uint256 offerId => Offer) private _offers;
    mapping(uint256 id => uint256) private _committed;
    mapping(uint256 id => uint256) private _fed;

    /// @param registry_ The ConsortiumRegistry.
    /// @param token_ The AllowanceToken.
    /// @param cash_ The SettlementToken.
    constructor(address registry_, address token_, address cash_) RegistryGated(registry_) {
        _token = IAllowanceToken(token_);
        _cash = IERC20(cash_);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IGovernmentReserve
    function setPlans(address plans_) external onlyGovernance {
        if (plans_ == address(0)) revert RegistryGatedZeroAddress("plans");
        _plans = ITotalControlPlans(plans_);
        emit ReservePlansSet(plans_);
    }

    /// @inheritdoc IGovernmentReserve
    function confiscate(address holder, uint256[] calldata ids, uint256[] calldata amounts, string calldata reason)
        external
        onlyGovernance
    {
        _checkIds(ids, 0);
        _token.confiscate(holder, ids, amounts);
        emit ReserveConfiscated(0, holder, ids, amounts, reason);
    }

    /// @inheritdoc IGovernmentReserve
    function sweepClosure(address enterprise, uint256[] calldata ids, string calldata reason)
        external
        onlyGovernance
        returns (uint256 closureId)
    {
        _checkIds(ids, yearOf(block.timestamp));
        uint256[] memory amounts = new uint256[](ids.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            amounts[i] = IERC1155(address(_token)).balanceOf(enterprise, ids[i]);
        }
        closureId = ++_closureCount;
        _token.confiscate(enterprise, ids, amounts);
        emit ReserveConfiscated(closureId, enterprise, ids, amounts, reason);
    }

    // ------------------------------------------------------------------ regulator

    /// @inheritdoc IGovernmentReserve
    function feed(uint256 annualPlanId, uint8 pollutant) external returns (uint256 amount) {
        if (msg.sender != address(_registry)) {
            (bool held, bool active) = _registry.roleStatus(msg.sender, Roles.REGULATOR_ROLE);
            if (!held || !active) revert ReserveNotRegulatorOrGovernance(msg.sender);
        }
        ITotalControlPlans plans_ = _requirePlans();
        uint16 year = plans_.plan(annualPlanId).startYear;
        uint256 id = TokenId.unwrap(TokenIdLib.encode(Kind.Allowance, pollutant, year));
        if (plans_.capPlanOf(id) != annualPlanId || plans_.currentAnnualPlan(year) != annualPlanId) {
            revert ReserveNotPlanCap(annualPlanId, id);
        }
        uint256 share = _shareOf(plans_, annualPlanId, pollutant);
        uint256 done = _fed[id];
        if (share <= done) revert ReserveNothingToFeed(id, share, done);
        amount = share - done;
        _fed[id] = share;
        emit ReserveFed(annualPlanId, id, amount, share);
        _token.issueToReserve(id, amount);
    }

    /// @inheritdoc IGovernmentReserve
    function offer(address project, uint256 id, uint256 quantity, uint64 deadline)
        external
        onlyRegistryRole(Roles.REGULATOR_ROLE)
        returns (uint256 offerId)
    {
        if (!_registry.isActiveEnterprise(project)) revert ReserveNotProject(project);
        if (TokenId.wrap(id).kind() != Kind.Allowance) revert ReserveInvalidId(id);
        if (quantity == 0) revert ReserveZeroAmount();
        uint256 free = available(id);
        if (quantity > free) revert ReserveInsufficient(id, quantity, free);
        if (deadline <= block.timestamp) revert ReserveInvalidDeadline(deadline);
        (uint256 price, uint256 planId) = guidePrice(id, _registry.getEnterprise(project).regionCode);
        offerId = ++_offerCount;
        _offers[offerId] = Offer({
            project: project,
            id: id,
            quantity: quantity,
            price: price,
            annualPlanId: planId,
            deadline: deadline,
            state: OfferState.Open
        });
        _committed[id] += quantity;
        emit ReserveOffered(offerId, project, id, quantity, price, planId, deadline);
    }

    /// @inheritdoc IGovernmentReserve
    function withdrawOffer(uint256 offerId) external onlyRegistryRole(Roles.REGULATOR_ROLE) {
        Offer storage o = _openOffer(offerId);
        o.state = OfferState.Withdrawn;
        _committed[o.id] -= o.quantity;
        emit ReserveOfferWithdrawn(offerId, msg.sender);
    }

    // ------------------------------------------------------------------ project

    /// @inheritdoc IGovernmentReserve
    function accept(uint256 offerId) external nonReentrant onlyRegistryRole(Roles.ENTERPRISE_ROLE) {
        Offer storage o = _openOffer(offerId);
        if (o.project != msg.sender) revert ReserveNotOfferee(offerId, msg.sender);
        if (block.timestamp > o.deadline) revert ReserveOfferExpired(offerId, o.deadline);
        address treasury_ = _treasury;
        if (treasury_ == address(0)) revert ReserveNotWired("treasury");
        uint256 id = o.id;
        uint256 quantity = o.quantity;
        uint256 payment = quantity * o.price;
        o.state = OfferState.Accepted;
        _committed[id] -= quantity;
        emit ReserveSold(offerId, msg.sender, id, quantity, payment, treasury_);
        if (payment != 0) _cash.safeTransferFrom(msg.sender, treasury_, payment);
        IERC1155(address(_token)).safeTransferFrom(address(this), msg.sender, id, quantity, "");
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IGovernmentReserve
    function allowanceToken() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IGovernmentReserve
    function settlementToken() external view returns (address) {
        return address(_cash);
    }

    /// @inheritdoc IGovernmentReserve
    function plans() external view returns (address) {
        return address(_plans);
    }

    /// @inheritdoc IGovernmentReserve
    function available(uint256 id) public view returns (uint256) {
        return IERC1155(address(_token)).balanceOf(address(this), id) - _committed[id];
    }

    /// @inheritdoc IGovernmentReserve
    function committed(uint256 id) external view returns (uint256) {
        return _committed[id];
    }

    /// @inheritdoc IGovernmentReserve
    function fed(uint256 id) external view returns (uint256) {
        return _fed[id];
    }

    /// @inheritdoc IGovernmentReserve
    function reserveShareOf(uint256 annualPlanId, uint8 pollutant) external view returns (uint256) {
        return _shareOf(_requirePlans(), annualPlanId, pollutant);
    }

    /// @inheritdoc IGovernmentReserve
    function guidePrice(uint256 id, uint32 region) public view returns (uint256 price, uint256 annualPlanId) {
        (, uint8 pollutant, uint16 vintage) = TokenId.wrap(id).decode();
        ITotalControlPlans plans_ = _requirePlans();
        annualPlanId = plans_.currentAnnualPlan(vintage);
        if (annualPlanId == 0) revert ReserveNoGuidePrice(id, region);
        ITotalControlPlans.RegionCap[] memory lines = plans_.regionCaps(annualPlanId);
        // the project's own code, then its prefecture (xxxx00), then its province (xx0000)
        uint32[3] memory codes = [region, region / 100 * 100, region / 10_000 * 10_000];
        for (uint256 c = 0; c < codes.length; ++c) {
            for (uint256 i = 0; i < lines.length; ++i) {
                if (lines[i].pollutant == pollutant && lines[i].region == codes[c]) {
                    return (lines[i].guidePrice, annualPlanId);
                }
            }
        }
        revert ReserveNoGuidePrice(id, region);
    }

    /// @inheritdoc IGovernmentReserve
    function getOffer(uint256 offerId) external view returns (Offer memory) {
        return _offers[offerId];
    }

    /// @inheritdoc IGovernmentReserve
    function offerCount() external view returns (uint256) {
        return _offerCount;
    }

    /// @inheritdoc IGovernmentReserve
    function closureCount() external view returns (uint256) {
        return _closureCount;
    }

    /// @inheritdoc IGovernmentReserve
    function yearOf(uint256 timestamp) public pure returns (uint16) {
        // civil year from days since 1970-01-01 (H. Hinnant's days-to-civil algorithm)
        uint256 z = (timestamp + CST_OFFSET) / 1 days + 719_468;
        uint256 era = z / 146_097;
        uint256 doe = z - era * 146_097;
        uint256 yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        uint256 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        uint256 mp = (5 * doy + 2) / 153;
        uint256 year = yoe + era * 400 + (mp >= 10 ? 1 : 0); // March-based year: Jan and Feb belong to the next
        return uint16(year);
    }

    // ------------------------------------------------------------------ internal

    function _requirePlans() private view returns (ITotalControlPlans plans_) {
        plans_ = _plans;
        if (address(plans_) == address(0)) revert ReserveNotWired("plans");
    }

    function _shareOf(ITotalControlPlans plans_, uint256 annualPlanId, uint8 pollutant)
        private
        view
        returns (uint256 share)
    {
        ITotalControlPlans.RegionCap[] memory lines = plans_.regionCaps(annualPlanId);
        for (uint256 i = 0; i < lines.length; ++i) {
            if (lines[i].pollutant == pollutant) share += lines[i].cap * lines[i].reserveShareBps / BPS;
        }
    }

    function _openOffer(uint256 offerId) private view returns (Offer storage o) {
        o = _offers[offerId];
        if (o.state == OfferState.None) revert ReserveOfferUnknown(offerId);
        if (o.state != OfferState.Open) revert ReserveOfferNotOpen(offerId, o.state);
    }

    /// @dev Allowance ids, none repeated, of a vintage ≥ `fromYear` (0: any vintage).
    function _checkIds(uint256[] calldata ids, uint16 fromYear) private pure {
        for (uint256 i = 0; i < ids.length; ++i) {
            (Kind kind,, uint16 vintage) = TokenId.wrap(ids[i]).decode();
            if (kind != Kind.Allowance) revert ReserveInvalidId(ids[i]);
            if (vintage < fromYear) revert ReserveVintagePast(ids[i], vintage, fromYear);
            for (uint256 j = 0; j < i; ++j) {
                if (ids[j] == ids[i]) revert ReserveInvalidId(ids[i]);
            }
        }
    }
}
