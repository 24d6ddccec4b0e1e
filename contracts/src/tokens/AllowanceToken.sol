// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {RegistryGated} from "../access/RegistryGated.sol";
import {IAllowanceToken} from "../interfaces/IAllowanceToken.sol";
import {IComplianceManager} from "../interfaces/IComplianceManager.sol";
import {IDischargePermits} from "../interfaces/IDischargePermits.sol";
import {IMarket} from "../interfaces/IMarket.sol";
import {ISealedBidAuction} from "../interfaces/ISealedBidAuction.sol";
import {ITrustedCounterparties} from "../interfaces/ITrustedCounterparties.sol";
import {Roles} from "../libraries/Roles.sol";
import {Kind, TokenId, TokenIdLib} from "../types/TokenId.sol";

/// @title AllowanceToken
/// @notice Capped, restricted ERC-1155 emission allowances and offset credits. See {IAllowanceToken}.
contract AllowanceToken is IAllowanceToken, ERC1155, RegistryGated {
    uint16 private constant MIN_VINTAGE = 2000;
    uint16 private constant MAX_VINTAGE = 2200;

    mapping(uint8 code => string) private _pollutants;
    mapping(uint256 id => uint256) private _caps;
    mapping(uint256 id => uint256) private _issued;
    mapping(uint256 id => uint256) private _retiredTotal;
    mapping(address account => mapping(uint256 id => mapping(uint16 year => uint256))) private _retiredOf;
    mapping(address holder => mapping(uint256 id => uint16 reasonCode)) private _frozen;
    mapping(bytes32 batchRef => bool) private _batches;
    mapping(address enterprise => mapping(uint256 id => uint256)) private _permitAllocated;
    address private _permits;
    address private _trustedCounterparties;
    address private _complianceManager;
    // packed with the compliance manager, which a transfer reads anyway once a market is set:
    // an unwired list costs no extra cold read
    bool private _trustedWired;
    address private _auctionHouse;
    address private _market;
    // packed with the market, which every transfer reads anyway (the market's own payouts
    // included): the permits gate of an ungated pollutant costs one warm read
    uint96 private _permitGates;
    address private _plans;
    address private _reserve;

    /// @param registry_ The ConsortiumRegistry.
    constructor(address registry_) ERC1155("") RegistryGated(registry_) {
        string[6] memory symbols = ["CO2", "SO2", "NOx", "COD", "NH3-N", "PM"];
        for (uint8 i = 0; i < symbols.length; ++i) {
            _addPollutant(i + 1, symbols[i]);
        }
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IAllowanceToken
    function addPollutant(uint8 code, string calldata symbol) external onlyGovernance {
        _addPollutant(code, symbol);
    }

    /// @inheritdoc IAllowanceToken
    function setComplianceManager(address manager) external onlyGovernance {
        if (manager == address(0)) revert AllowanceZeroAddress("complianceManager");
        _complianceManager = manager;
        emit ComplianceManagerSet(manager);
    }

    /// @inheritdoc IAllowanceToken
    function setAuctionHouse(address auctionHouse_) external onlyGovernance {
        if (auctionHouse_ == address(0)) revert AllowanceZeroAddress("auctionHouse");
        _auctionHouse = auctionHouse_;
        emit AuctionHouseSet(auctionHouse_);
    }

    /// @inheritdoc IAllowanceToken
    function setTrustedCounterparties(address trusted_) external onlyGovernance {
        if (trusted_ == address(0)) revert AllowanceTrustedCounterpartiesZero();
        _trustedCounterparties = trusted_;
        _trustedWired = true;
        emit TrustedCounterpartiesSet(trusted_);
    }

    /// @inheritdoc IAllowanceToken
    function setPermits(address permits_) external onlyGovernance {
        if (permits_ == address(0)) revert AllowanceZeroAddress("permits");
        uint96 mask = 0;
        for (uint8 code = 1; code < 96; ++code) {
            if (IDischargePermits(permits_).gates(code)) mask |= uint96(1) << code;
        }
        _permits = permits_;
        _permitGates = mask;
        emit PermitsSet(permits_, mask);
    }

    /// @inheritdoc IAllowanceToken
    function setMarket(address market_) external onlyGovernance {
        if (market_ == address(0)) revert AllowanceZeroAddress("market");
        _market = market_;
        emit MarketSet(market_);
    }

    /// @inheritdoc IAllowanceToken
    function setPlans(address plans_) external onlyGovernance {
        if (plans_ == address(0)) revert AllowanceZeroAddress("plans");
        _plans = plans_;
        emit PlansSet(plans_);
    }

    /// @inheritdoc IAllowanceToken
    function setReserve(address reserve_) external onlyGovernance {
        if (reserve_ == address(0)) revert AllowanceZeroAddress("reserve");
        _reserve = reserve_;
        emit ReserveSet(reserve_);
    }

    // ------------------------------------------------------------------ regulator

    /// @inheritdoc IAllowanceToken
    function setCap(uint256 id, uint256 newCap) external {
        address plans_ = _plans;
        if (plans_ == address(0)) {
            if (!_registry.hasRole(Roles.REGULATOR_ROLE, msg.sender)) {
                revert UnauthorizedRole(msg.sender, Roles.REGULATOR_ROLE);
            }
            if (!_registry.isActiveParticipant(msg.sender)) revert CallerNotActive(msg.sender);
        } else if (msg.sender != plans_) {
            revert AllowanceCapNeedsPlan(id);
        }
        _requireValidId(id);
        uint256 issuedAmount = _issued[id];
        if (newCap < issuedAmount) revert CapBelowIssued(id, newCap, issuedAmount);
        emit CapSet(id, _caps[id], newCap);
        _caps[id] = newCap;
    }

    /// @inheritdoc IAllowanceToken
    function allocate(uint256 id, address[] calldata recipients, uint256[] calldata amounts, bytes32 batchRef)
        external
        onlyRegistryRole(Roles.REGULATOR_ROLE)
    {
        uint256 n = recipients.length;
        if (n == 0 || n != amounts.length) revert AllowanceLengthMismatch(n, amounts.length);
        if (_batches[batchRef]) revert AllocationBatchAlreadyExecuted(batchRef);
        _requireValidId(id);
        uint96 gates_ = _permitGates;
        if (gates_ != 0) _requirePermitted(id, recipients, amounts, gates_);
        uint256 total = 0;
        for (uint256 i = 0; i < n; ++i) {
            if (amounts[i] == 0) revert AllowanceZeroAmount(i);
            total += amounts[i];
        }
        uint256 remaining = _caps[id] - _issued[id];
        if (total > remaining) revert CapExceeded(id, total, remaining);
        _batches[batchRef] = true;
        _issued[id] += total;
        uint256[] memory withheld = _makeGoodOf(id, recipients, amounts);
        for (uint256 i = 0; i < n; ++i) {
            _mintAllocation(recipients[i], id, amounts[i], withheld.length == 0 ? 0 : withheld[i]);
        }
        emit AllowancesAllocated(id, batchRef, n, total);
    }

    /// @inheritdoc IAllowanceToken
    function freeze(address holder, uint256 id, uint16 reasonCode) external onlyRegistryRole(Roles.REGULATOR_ROLE) {
        if (reasonCode == 0 || _frozen[holder][id] != 0) revert AllowanceFreezeState(holder, id);
        _frozen[holder][id] = reasonCode;
        emit BalanceFrozen(holder, id, reasonCode);
    }

    /// @inheritdoc IAllowanceToken
    function release(address holder, uint256 id) external onlyRegistryRole(Roles.REGULATOR_ROLE) {
        if (_frozen[holder][id] == 0) revert AllowanceFreezeState(holder, id);
        delete _frozen[holder][id];
        emit BalanceReleased(holder, id);
    }

    // ------------------------------------------------------------------ auction house

    /// @inheritdoc IAllowanceToken
    function issueToAuction(uint256 id, uint256 amount) external {
        _requireAuctionHouse();
        _requireValidId(id);
        if (amount == 0) revert AllowanceZeroAmount(0);
        uint256 remaining = _caps[id] - _issued[id];
        if (amount > remaining) revert CapExceeded(id, amount, remaining);
        _issued[id] += amount;
        _mint(msg.sender, id, amount, "");
        emit AllowancesIssuedToAuction(id, amount);
    }

    /// @inheritdoc IAllowanceToken
    function returnToCap(uint256 id, uint256 amount) external {
        _requireAuctionHouse();
        _burn(msg.sender, id, amount);
        _issued[id] -= amount;
        emit AllowancesReturnedToCap(id, amount);
    }

    // ------------------------------------------------------------------ government reserve

    /// @inheritdoc IAllowanceToken
    function issueToReserve(uint256 id, uint256 amount) external {
        _requireReserve();
        _requireValidId(id);
        if (amount == 0) revert AllowanceZeroAmount(0);
        uint256 remaining = _caps[id] - _issued[id];
        if (amount > remaining) revert CapExceeded(id, amount, remaining);
        _issued[id] += amount;
        _mint(msg.sender, id, amount, "");
        emit AllowancesIssuedToReserve(id, amount);
    }

    /// @inheritdoc IAllowanceToken
    function confiscate(address holder, uint256[] calldata ids, uint256[] calldata amounts) external {
        _requireReserve();
        if (ids.length != amounts.length) revert AllowanceLengthMismatch(ids.length, amounts.length);
        // the parent's balance move, not this contract's {_update}: a governance decision the
        // reserve checked is not subject to the holder's transfer restrictions
        ERC1155._update(holder, msg.sender, ids, amounts);
        emit AllowancesConfiscated(holder, ids, amounts);
    }

    // ------------------------------------------------------------------ compliance

    /// @inheritdoc IAllowanceToken
    function retire(address account, uint256 id, uint256 amount, uint16 complianceYear) external {
        if (msg.sender != _complianceManager || msg.sender == address(0)) revert AllowanceOnlyCompliance(msg.sender);
        uint16 vintage = TokenId.wrap(id).vintage();
        if (vintage > complianceYear) revert AllowanceVintageInFuture(id, vintage, complianceYear);
        _burn(msg.sender, id, amount);
        _retiredTotal[id] += amount;
        _retiredOf[account][id][complianceYear] += amount;
        emit AllowancesRetired(account, id, complianceYear, amount);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IAllowanceToken
    function cap(uint256 id) external view returns (uint256) {
        return _caps[id];
    }

    /// @inheritdoc IAllowanceToken
    function issued(uint256 id) external view returns (uint256) {
        return _issued[id];
    }

    /// @inheritdoc IAllowanceToken
    function retired(uint256 id) external view returns (uint256) {
        return _retiredTotal[id];
    }

    /// @inheritdoc IAllowanceToken
    function retiredOf(address account, uint256 id, uint16 complianceYear) external view returns (uint256) {
        return _retiredOf[account][id][complianceYear];
    }

    /// @inheritdoc IAllowanceToken
    function totalSupply(uint256 id) external view returns (uint256) {
        return _issued[id] - _retiredTotal[id];
    }

    /// @inheritdoc IAllowanceToken
    function frozenReason(address holder, uint256 id) external view returns (uint16) {
        return _frozen[holder][id];
    }

    /// @inheritdoc IAllowanceToken
    function batchExecuted(bytes32 batchRef) external view returns (bool) {
        return _batches[batchRef];
    }

    /// @inheritdoc IAllowanceToken
    function complianceManager() external view returns (address) {
        return _complianceManager;
    }

    /// @inheritdoc IAllowanceToken
    function market() external view returns (address) {
        return _market;
    }

    /// @inheritdoc IAllowanceToken
    function plans() external view returns (address) {
        return _plans;
    }

    /// @inheritdoc IAllowanceToken
    function reserve() external view returns (address) {
        return _reserve;
    }

    /// @inheritdoc IAllowanceToken
    function auctionHouse() external view returns (address) {
        return _auctionHouse;
    }

    /// @inheritdoc IAllowanceToken
    function trustedCounterparties() external view returns (address) {
        return _trustedCounterparties;
    }

    /// @inheritdoc IAllowanceToken
    function permits() external view returns (address) {
        return _permits;
    }

    /// @inheritdoc IAllowanceToken
    function permitAllocated(address enterprise, uint256 id) external view returns (uint256) {
        return _permitAllocated[enterprise][id];
    }

    /// @inheritdoc IAllowanceToken
    function pollutantSymbol(uint8 code) external view returns (string memory) {
        return _pollutants[code];
    }

    /// @inheritdoc IAllowanceToken
    function encodeId(Kind kind, uint8 pollutant, uint16 vintage) external pure returns (uint256) {
        return TokenId.unwrap(TokenIdLib.encode(kind, pollutant, vintage));
    }

    /// @inheritdoc IAllowanceToken
    function decodeId(uint256 id) external pure returns (Kind kind, uint8 pollutant, uint16 vintage) {
        return TokenId.wrap(id).decode();
    }

    // ------------------------------------------------------------------ internal

    /// @dev The one hook for balance changes. Transfers: both parties active participants or
    /// system contracts, the sender's balance of the id not frozen; the market paying out its own
    /// escrow (other holders' allowances, checked when they entered it) has only the receiver
    /// checked, governance having made it the market. Once a market is set, a transfer may not
    /// dip into what the sender bought on the market today, unless the market itself moves it or
    /// it goes to the compliance manager (surrender). While permits are wired, a gated pollutant
    /// needs a valid permit of the sender, and of the receiver too unless the market moves it
    /// ({_requireValidPermits}). While trusted counterparties are wired, a transfer not moved by the
    /// market sends an untrusted receiver at most the governed limit ({_requireTrusted}). Mints and
    /// burns are checked where they happen (`allocate`, `retire`).
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, ids, values);
            return;
        }
        address market_ = _market;
        bool byMarket = market_ != address(0) && msg.sender == market_;
        if (byMarket && from == market_) {
            // the market paying out its own escrow: only the receiver is checked
            if (!_registry.isActiveParticipant(to) && !isSystemContract(to)) revert PartyNotAllowed(to);
        } else {
            _requireParties(from, to);
            for (uint256 i = 0; i < ids.length; ++i) {
                uint16 reason = _frozen[from][ids[i]];
                if (reason != 0) revert AllowanceFrozen(from, ids[i], reason);
            }
            if (!byMarket && _trustedWired) _requireTrusted(from, to, values);
        }
        uint96 gates_ = _permitGates;
        if (gates_ != 0) _requireValidPermits(from, to, ids, gates_, byMarket);
        super._update(from, to, ids, values);
        if (market_ != address(0) && !byMarket && to != _complianceManager) {
            // checked on the balances after the move, so a batch repeating an id is covered too
            for (uint256 i = 0; i < ids.length; ++i) {
                uint256 locked = IMarket(market_).boughtToday(from, ids[i]);
                if (locked != 0 && balanceOf(from, ids[i]) < locked) revert AllowanceLockedToday(from, ids[i], locked);
            }
        }
    }

    /// @dev Permits gate on a transfer: for each allowance id of a gated pollutant, the sender, unless
    /// a system contract, must be free to trade it ({IDischargePermits-mayTrade}: not an enterprise,
    /// or its permit valid now). The receiver is checked the same way only on a direct transfer; when
    /// the market moves the allowances (`byMarket`) only the sender is: a lapsed enterprise cannot
    /// sell (its sell escrow entering the market, a taker sell it sends), but the market's escrow
    /// returns and deliveries to it always go through, so one lapsed enterprise with resting orders
    /// blocks neither its cancel/expiry nor other traders' fills. Surrender (to the compliance
    /// manager) and the manager's returns are not gated: holding and surrender stay possible. The
    /// government reserve's deliveries are not gated on the receiver: a new or expanded project
    /// obtains rights from the reserve before its permit is issued (read only when it matters), and
    /// so are the auction house's deliveries to the claimant of a primary auction the regulator
    /// restricted to named projects ({ISealedBidAuction-createRestrictedPrimary}).
    function _requireValidPermits(address from, address to, uint256[] memory ids, uint96 gates_, bool byMarket)
        private
        view
    {
        address manager = _complianceManager;
        if (to == manager || from == manager) return;
        for (uint256 i = 0; i < ids.length; ++i) {
            TokenId token = TokenId.wrap(ids[i]);
            uint8 pollutant = token.pollutant();
            if (token.kind() != Kind.Allowance || pollutant >= 96 || (gates_ >> pollutant) & 1 == 0) continue;
            IDischargePermits permits_ = IDischargePermits(_permits); // read only for a gated id
            if (!isSystemContract(from) && !permits_.mayTrade(from, pollutant)) {
                revert AllowancePermitNotValid(from, pollutant);
            }
            if (
                !byMarket && !isSystemContract(to) && !permits_.mayTrade(to, pollutant) && from != _reserve
                    && !_projectDelivery(from, to)
            ) {
                revert AllowancePermitNotValid(to, pollutant);
            }
        }
    }

    /// @dev Permits gate on allocation: each recipient's cumulative allocation of a gated
    /// pollutant's allowance stays within its permitted annual amount for the vintage.
    function _requirePermitted(uint256 id, address[] calldata recipients, uint256[] calldata amounts, uint96 gates_)
        private
    {
        (Kind kind, uint8 pollutant, uint16 vintage) = TokenId.wrap(id).decode();
        if (kind != Kind.Allowance || pollutant >= 96 || (gates_ >> pollutant) & 1 == 0) return;
        for (uint256 i = 0; i < recipients.length; ++i) {
            _chargePermit(recipients[i], id, pollutant, vintage, amounts[i]);
        }
    }

    /// @dev Count `amount` against `to`'s permitted amount of the pollutant and vintage.
    function _chargePermit(address to, uint256 id, uint8 pollutant, uint16 vintage, uint256 amount) private {
        uint256 permitted = IDischargePermits(_permits).permittedAmount(to, pollutant, vintage);
        if (permitted == 0) revert AllowancePermitRequired(to, pollutant, vintage);
        uint256 allocated = _permitAllocated[to][id] + amount;
        if (allocated > permitted) revert AllowanceAbovePermit(to, pollutant, vintage, permitted, allocated);
        _permitAllocated[to][id] = allocated;
    }

    /// @dev Make-good units each recipient owes against this allocation (empty when none can be
    /// owed: offsets, or no compliance manager).
    function _makeGoodOf(uint256 id, address[] calldata recipients, uint256[] calldata amounts)
        private
        returns (uint256[] memory withheld)
    {
        (Kind kind, uint8 pollutant, uint16 vintage) = TokenId.wrap(id).decode();
        address manager = _complianceManager;
        // an account without code (e.g. a test's retiring key) has no make-good book to ask
        if (kind == Kind.Allowance && manager.code.length != 0) {
            withheld = IComplianceManager(manager).deductMakeGood(pollutant, vintage, recipients, amounts);
        }
    }

    /// @dev Mint one recipient's allocation less its make-good units, which are retired against
    /// last year (issued against the cap, never minted).
    function _mintAllocation(address to, uint256 id, uint256 amount, uint256 makeGood) private {
        if (!_registry.isActiveEnterprise(to)) revert AllowanceNotEnterprise(to);
        if (makeGood > amount) makeGood = amount;
        if (makeGood != 0) {
            uint16 year = TokenId.wrap(id).vintage() - 1; // vintages start at MIN_VINTAGE: no underflow
            _retiredTotal[id] += makeGood;
            _retiredOf[to][id][year] += makeGood;
            emit AllowancesRetired(to, id, year, makeGood);
        }
        if (amount != makeGood) _mint(to, id, amount - makeGood, "");
    }

    /// @dev Whether the auction house is delivering a restricted primary auction's claim to `to`
    /// (asked only when `to` has no valid permit).
    function _projectDelivery(address from, address to) private view returns (bool) {
        address house = _auctionHouse;
        return from == house && house != address(0) && ISealedBidAuction(house).projectClaimant() == to;
    }

    function _requireReserve() private view {
        if (msg.sender != _reserve || msg.sender == address(0)) revert AllowanceOnlyReserve(msg.sender);
    }

    /// @dev Trusted counterparties on a direct transfer: unless a system contract is a party, the
    /// amount (all ids together) stays within what `from` may send `to` ({ITrustedCounterparties-transferLimit}).
    function _requireTrusted(address from, address to, uint256[] memory values) private view {
        if (to == _complianceManager || isSystemContract(from) || isSystemContract(to)) return;
        uint256 amount = 0;
        for (uint256 i = 0; i < values.length; ++i) {
            amount += values[i];
        }
        uint256 limit = ITrustedCounterparties(_trustedCounterparties).transferLimit(from, to);
        if (amount > limit) revert AllowanceUntrustedCounterparty(from, to, amount, limit);
    }

    function _requireAuctionHouse() private view {
        if (msg.sender != _auctionHouse || msg.sender == address(0)) revert AllowanceOnlyAuctionHouse(msg.sender);
    }

    function _addPollutant(uint8 code, string memory symbol) private {
        uint256 length = bytes(symbol).length;
        if (code == 0 || length == 0 || length > 16 || bytes(_pollutants[code]).length != 0) {
            revert AllowancePollutantInvalid(code, symbol);
        }
        _pollutants[code] = symbol;
        emit PollutantAdded(code, symbol);
    }

    function _requireValidId(uint256 id) private view {
        TokenId token = TokenId.wrap(id);
        if (!token.fits()) revert AllowanceInvalidId(id);
        (Kind kind, uint8 pollutant, uint16 vintage) = token.decode();
        if (kind == Kind.None || vintage < MIN_VINTAGE || vintage > MAX_VINTAGE) revert AllowanceInvalidId(id);
        if (bytes(_pollutants[pollutant]).length == 0) revert AllowanceUnknownPollutant(pollutant);
    }
}
