// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Kind} from "../types/TokenId.sol";

/// @title IAllowanceToken
/// @notice Emission allowances and offset credits as ERC-1155 tokens. A token id encodes
/// (kind, pollutant, vintage year): `id = kind << 24 | pollutant << 16 | vintage` ({TokenId}).
/// Each id has a cap (total-amount control) that allocation can never pass; tokens move only
/// between active registered participants and system contracts; the regulator can freeze a
/// holder's balance of one id; only the compliance manager retires (surrenders) tokens, never
/// of a vintage later than the compliance year (banking forward yes, borrowing no).
/// Invariant: for every id, issued = total balances + retired <= cap.
interface IAllowanceToken {
    /// @notice The id does not encode a known kind, a known pollutant and a vintage in 2000..2200.
    error AllowanceInvalidId(uint256 id);
    /// @notice The pollutant code is not registered.
    error AllowanceUnknownPollutant(uint8 code);
    /// @notice The pollutant code is already registered, or the code/symbol is invalid.
    error AllowancePollutantInvalid(uint8 code, string symbol);
    /// @notice Allocation would pass the cap.
    error CapExceeded(uint256 id, uint256 requested, uint256 remaining);
    /// @notice The new cap is below what has been issued already.
    error CapBelowIssued(uint256 id, uint256 cap, uint256 issued);
    /// @notice Recipient and amount lists differ in length, or are empty.
    error AllowanceLengthMismatch(uint256 recipients, uint256 amounts);
    /// @notice An amount is zero (at list position `index`).
    error AllowanceZeroAmount(uint256 index);
    /// @notice The allocation batch reference was used before (the batch already ran).
    error AllocationBatchAlreadyExecuted(bytes32 batchRef);
    /// @notice Allocation goes to active registered enterprises only.
    error AllowanceNotEnterprise(address account);
    /// @notice The holder's balance of this id is frozen.
    error AllowanceFrozen(address holder, uint256 id, uint16 reasonCode);
    /// @notice The balance is not frozen (release) or already frozen (freeze), or the reason is 0.
    error AllowanceFreezeState(address holder, uint256 id);
    /// @notice Only the compliance manager may retire tokens.
    error AllowanceOnlyCompliance(address caller);
    /// @notice The vintage is later than the compliance year (no borrowing from the future).
    error AllowanceVintageInFuture(uint256 id, uint16 vintage, uint16 complianceYear);
    /// @notice Only the auction house may issue into or return to the cap.
    error AllowanceOnlyAuctionHouse(address caller);
    /// @notice While trusted counterparties are wired ({setTrustedCounterparties}), a direct transfer
    /// of `amount` (all ids together) to `to`, not on `from`'s trusted list or not yet in effect, is
    /// above the governed `limit` ({ITrustedCounterparties-transferLimit}). Movements by the market
    /// and by or to system contracts (auctions, compliance) are not limited.
    error AllowanceUntrustedCounterparty(address from, address to, uint256 amount, uint256 limit);
    /// @notice The trusted counterparties contract was given as zero.
    error AllowanceTrustedCounterpartiesZero();
    /// @notice While permits are wired ({setPermits}), allocation of a gated pollutant goes only to an
    /// enterprise whose permit covers it for the vintage year ({IDischargePermits-permittedAmount}).
    error AllowancePermitRequired(address enterprise, uint8 pollutant, uint16 year);
    /// @notice The enterprise's cumulative allocation of the pollutant and vintage (`allocated`,
    /// this batch included) would exceed its permitted annual amount.
    error AllowanceAbovePermit(address enterprise, uint8 pollutant, uint16 year, uint256 permitted, uint256 allocated);
    /// @notice A transfer of a gated pollutant by an enterprise whose permit for it is not valid
    /// (expired, revoked, cancelled or none), or a direct (non-market) transfer to one; when the
    /// market moves allowances only the sender is checked, so escrow returns and deliveries to a
    /// lapsed enterprise go through. Holding and surrender stay possible.
    error AllowancePermitNotValid(address enterprise, uint8 pollutant);
    /// @notice A transfer would move allowances the holder received from the market this trading
    /// day (`locked`): bought today, sellable tomorrow (T+1). Transfers by the market itself and to
    /// the compliance manager (surrender) are not locked.
    error AllowanceLockedToday(address holder, uint256 id, uint256 locked);
    /// @notice While a plans contract is wired ({setPlans}), a cap changes only by executing an
    /// adopted annual plan through it: any other `setCap` names no plan and is refused.
    error AllowanceCapNeedsPlan(uint256 id);
    /// @notice A governed address (`field`: complianceManager, auctionHouse, market, plans, reserve) was given as zero.
    error AllowanceZeroAddress(string field);
    /// @notice Only the government reserve ({setReserve}) may call this function.
    error AllowanceOnlyReserve(address caller);

    /// @notice The plans contract (the only setter of caps from now on) was set.
    event PlansSet(address indexed plans);
    /// @notice A pollutant was registered.
    event PollutantAdded(uint8 indexed code, string symbol);
    /// @notice The cap of an id changed.
    event CapSet(uint256 indexed id, uint256 oldCap, uint256 newCap);
    /// @notice An allocation batch was minted.
    event AllowancesAllocated(uint256 indexed id, bytes32 indexed batchRef, uint256 recipients, uint256 total);
    /// @notice A holder's balance of an id was frozen.
    event BalanceFrozen(address indexed holder, uint256 indexed id, uint16 reasonCode);
    /// @notice A frozen balance was released.
    event BalanceReleased(address indexed holder, uint256 indexed id);
    /// @notice Tokens were retired against an account's compliance obligation.
    event AllowancesRetired(address indexed account, uint256 indexed id, uint16 indexed complianceYear, uint256 amount);
    /// @notice The compliance manager changed.
    event ComplianceManagerSet(address indexed manager);
    /// @notice The auction house changed.
    event AuctionHouseSet(address indexed auctionHouse);
    /// @notice The trusted counterparties contract (asked on direct transfers) was wired.
    event TrustedCounterpartiesSet(address indexed trustedCounterparties);
    /// @notice The market (asked for today's purchases, the T+1 lock) changed.
    event MarketSet(address indexed market);
    /// @notice The discharge permits contract was wired; `gatedMask` has bit `p` set for each
    /// pollutant code `p` (< 96) it gates.
    event PermitsSet(address indexed permits, uint96 gatedMask);
    /// @notice New allowances were issued (within the cap) into the auction house's escrow for a primary auction.
    event AllowancesIssuedToAuction(uint256 indexed id, uint256 amount);
    /// @notice Unsold primary-auction allowances were burnt and returned to the cap.
    event AllowancesReturnedToCap(uint256 indexed id, uint256 amount);
    /// @notice The government reserve changed.
    event ReserveSet(address indexed reserve);
    /// @notice New allowances were issued (within the cap) to the government reserve (an annual
    /// plan's reserve share).
    event AllowancesIssuedToReserve(uint256 indexed id, uint256 amount);
    /// @notice Allowances were taken from `holder` into the government reserve (a confiscation or
    /// a closure), past the transfer restrictions.
    event AllowancesConfiscated(address indexed holder, uint256[] ids, uint256[] amounts);

    /// @notice Register a pollutant code (1..255) with its symbol.
    /// Requirements: called by the registry (governance); code unused; symbol 1-16 bytes.
    /// Emits: {PollutantAdded}.
    function addPollutant(uint8 code, string calldata symbol) external;

    /// @notice Set the cap of an id (total-amount control).
    /// @param id Token id (valid kind, pollutant, vintage).
    /// @param newCap May be lowered, never below what was issued.
    /// Requirements: while no plans contract is wired, caller has REGULATOR_ROLE and is active
    /// (`CallerNotActive` when suspended); while one is ({setPlans}), caller is that contract,
    /// executing an adopted annual plan ({AllowanceCapNeedsPlan} otherwise).
    /// Emits: {CapSet}.
    function setCap(uint256 id, uint256 newCap) external;

    /// @notice Mint allocations to many enterprises in one call.
    /// @param id Token id with a cap.
    /// @param recipients Active registered enterprises.
    /// @param amounts Positive whole allowances (tonnes), same length.
    /// @param batchRef Unique reference of this batch (e.g. hash of plan + batch index): a batch
    /// runs at most once, so an interrupted allocation can be resumed without minting twice.
    /// Make-good: for allowances (not offsets), when a compliance manager is set, the units a
    /// recipient owes for last year's shortfall of this pollutant
    /// ({IComplianceManager-deductMakeGood}) are withheld from its amount: issued against the
    /// cap, never minted, retired against `vintage - 1`.
    /// Requirements: caller has REGULATOR_ROLE and is active
    /// (`CallerNotActive` when suspended); sum within the cap's remainder; while permits are wired,
    /// for an allowance of a gated pollutant each recipient holds a permit covering it for the
    /// vintage (`AllowancePermitRequired`) and its cumulative allocation stays within the permitted
    /// amount (`AllowanceAbovePermit`).
    /// Emits: {TransferSingle} per recipient (of the amount less make-good),
    /// {AllowancesRetired} per recipient with make-good withheld, {AllowancesAllocated}.
    function allocate(uint256 id, address[] calldata recipients, uint256[] calldata amounts, bytes32 batchRef)
        external;

    /// @notice Freeze a holder's balance of one id.
    /// Requirements: caller has REGULATOR_ROLE and is active
    /// (`CallerNotActive` when suspended); not already frozen; reasonCode > 0.
    /// Emits: {BalanceFrozen}.
    function freeze(address holder, uint256 id, uint16 reasonCode) external;

    /// @notice Release a frozen balance.
    /// Requirements: caller has REGULATOR_ROLE and is active
    /// (`CallerNotActive` when suspended); frozen.
    /// Emits: {BalanceReleased}.
    function release(address holder, uint256 id) external;

    /// @notice Wire the discharge permits contract ({IDischargePermits}): from then on allocation of
    /// a pollutant it gates needs a permit within its amount, and transfers of it by an enterprise
    /// whose permit is not valid are refused (`AllowancePermitNotValid`), as are direct transfers
    /// to one; when the market moves the allowances only the sender is checked (a lapsed
    /// enterprise cannot sell, but the market's escrow returns and deliveries to it go through).
    /// Not gated: to and from the compliance manager (surrender), mints and burns. The gated set
    /// is read once here.
    /// Requirements: called by the registry (governance); not zero (`AllowanceZeroAddress("permits")`).
    /// Emits: {PermitsSet}.
    function setPermits(address permits) external;

    /// @notice Set the compliance manager, the only contract that retires tokens.
    /// Requirements: called by the registry (governance); not zero
    /// (`AllowanceZeroAddress("complianceManager")`).
    /// Emits: {ComplianceManagerSet}.
    function setComplianceManager(address manager) external;

    /// @notice Set the auction house, the only contract that issues new allowances into auction
    /// escrow and returns unsold ones to the cap.
    /// Requirements: called by the registry (governance); not zero
    /// (`AllowanceZeroAddress("auctionHouse")`).
    /// Emits: {AuctionHouseSet}.
    function setAuctionHouse(address auctionHouse) external;

    /// @notice Wire the trusted counterparties contract (`ITrustedCounterparties`): from then on a
    /// direct transfer between parties that are not system contracts, moved by someone other than
    /// the market, sending more than the sender's `transferLimit` to the receiver is refused with
    /// {AllowanceUntrustedCounterparty}.
    /// Requirements: called by the registry (governance); not zero ({AllowanceTrustedCounterpartiesZero}).
    /// Emits: {TrustedCounterpartiesSet}.
    function setTrustedCounterparties(address trustedCounterparties) external;

    /// @notice Set the market ({IMarket}): from then on a transfer of `id` that would dip into what
    /// the sender received from the market this trading day (`IMarket.boughtToday`) is refused
    /// with {AllowanceLockedToday}, unless the market itself moves it or it goes to the
    /// compliance manager.
    /// Requirements: called by the registry (governance); not zero (`AllowanceZeroAddress("market")`).
    /// Emits: {MarketSet}.
    function setMarket(address market) external;

    /// @notice Wire the total-control plans contract (`ITotalControlPlans`): from then on caps are
    /// set only by it, from adopted annual plans ({AllowanceCapNeedsPlan}).
    /// Requirements: called by the registry (governance); not zero (`AllowanceZeroAddress("plans")`).
    /// Emits: {PlansSet}.
    function setPlans(address plans) external;

    /// @notice Set the government reserve (`IGovernmentReserve`), the only caller of
    /// {issueToReserve} and {confiscate}. Its deliveries to a project are not refused by the permits
    /// gate on the receiver: a new or expanded project obtains rights before its permit is issued.
    /// Requirements: called by the registry (governance); not zero (`AllowanceZeroAddress("reserve")`).
    /// Emits: {ReserveSet}.
    function setReserve(address reserve) external;

    /// @notice Issue `amount` new allowances of `id` to the caller (the government reserve): the
    /// reserve share of an annual plan; they count as issued against the cap.
    /// Requirements: caller is the reserve ({AllowanceOnlyReserve}); valid id; `amount` > 0 and
    /// within the cap left ({CapExceeded}).
    /// Emits: {TransferSingle} (from zero), {AllowancesIssuedToReserve}.
    function issueToReserve(uint256 id, uint256 amount) external;

    /// @notice Move `amounts` of `ids` from `holder` into the caller (the government reserve), past
    /// the transfer restrictions (suspension, freezes, permits, the T+1 lock): a confiscation or a
    /// closure decided by governance, which the reserve checks. Allowances escrowed in the market
    /// or surrendered to the compliance manager are not the holder's balance and are not taken.
    /// Requirements: caller is the reserve ({AllowanceOnlyReserve}); same lengths
    /// ({AllowanceLengthMismatch}); `holder` holds each amount (`ERC1155InsufficientBalance`).
    /// Emits: {TransferBatch} (operator the reserve), {AllowancesConfiscated}.
    function confiscate(address holder, uint256[] calldata ids, uint256[] calldata amounts) external;

    /// @notice Issue `amount` new allowances of `id` to the caller (the auction house) for a
    /// primary auction; they count as issued against the cap.
    /// Requirements: caller is the auction house; valid id; `amount` within the cap left.
    /// Emits: {TransferSingle} (from zero), {AllowancesIssuedToAuction}.
    function issueToAuction(uint256 id, uint256 amount) external;

    /// @notice Burn `amount` of `id` from the caller (the auction house) and return them to the
    /// cap: unsold primary allowances were never issued to anyone.
    /// Requirements: caller is the auction house and holds `amount`.
    /// Emits: {TransferSingle} (to zero), {AllowancesReturnedToCap}.
    function returnToCap(uint256 id, uint256 amount) external;

    /// @notice Retire (burn) tokens held by the compliance manager against `account`'s obligation.
    /// @param account Enterprise whose obligation the tokens cover.
    /// @param id Token id; its vintage must not be later than `complianceYear`.
    /// @param amount Tokens, taken from the caller's (escrow) balance.
    /// @param complianceYear The compliance year.
    /// Requirements: caller is the compliance manager.
    /// Emits: {TransferSingle} (to zero), {AllowancesRetired}.
    function retire(address account, uint256 id, uint256 amount, uint16 complianceYear) external;

    /// @notice The market (zero until governance sets it).
    function market() external view returns (address);

    /// @notice The auction house (zero until governance sets it).
    function auctionHouse() external view returns (address);

    /// @notice The trusted counterparties contract (zero until governance wires it).
    function trustedCounterparties() external view returns (address);

    /// @notice The plans contract, the only setter of caps while set (zero until governance sets it).
    function plans() external view returns (address);

    /// @notice The government reserve (zero until governance sets it).
    function reserve() external view returns (address);

    /// @notice Cap of an id.
    function cap(uint256 id) external view returns (uint256);
    /// @notice Total ever issued (minted) of an id.
    function issued(uint256 id) external view returns (uint256);
    /// @notice Total retired of an id.
    function retired(uint256 id) external view returns (uint256);
    /// @notice Retired of an id against an account's obligation for a compliance year.
    function retiredOf(address account, uint256 id, uint16 complianceYear) external view returns (uint256);
    /// @notice Tokens in circulation: issued - retired.
    function totalSupply(uint256 id) external view returns (uint256);
    /// @notice Reason code of a freeze (0 = not frozen).
    function frozenReason(address holder, uint256 id) external view returns (uint16);
    /// @notice Whether an allocation batch ran.
    function batchExecuted(bytes32 batchRef) external view returns (bool);
    /// @notice The compliance manager.
    function complianceManager() external view returns (address);
    /// @notice The discharge permits contract (zero until governance wires it).
    function permits() external view returns (address);
    /// @notice Allocated to `enterprise` of `id` while permits were wired (checked against its permit).
    function permitAllocated(address enterprise, uint256 id) external view returns (uint256);
    /// @notice Symbol of a pollutant code ("" if unknown).
    function pollutantSymbol(uint8 code) external view returns (string memory);
    /// @notice Token id of (kind, pollutant, vintage).
    function encodeId(Kind kind, uint8 pollutant, uint16 vintage) external pure returns (uint256);
    /// @notice (kind, pollutant, vintage) of a token id (no validity check).
    function decodeId(uint256 id) external pure returns (Kind kind, uint8 pollutant, uint16 vintage);
}
