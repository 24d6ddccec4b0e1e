// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {RegistryGated} from "../access/RegistryGated.sol";
import {IConsortiumRegistry} from "../interfaces/IConsortiumRegistry.sol";
import {IEmissionCards} from "../interfaces/IEmissionCards.sol";
import {Roles} from "../libraries/Roles.sol";
import {Kind, TokenId, TokenIdLib} from "../types/TokenId.sol";

/// @title EmissionCards
/// @notice IC cards beside devices, monthly loads of committed allowances in custody, month-end
/// settlement of the metered use. See {IEmissionCards}.
contract EmissionCards is IEmissionCards, RegistryGated, ERC1155Holder {
    IERC1155 private immutable _token;

    mapping(uint64 card => Card) private _cards;
    mapping(address device => uint64) private _activeCard;
    mapping(address enterprise => uint64[]) private _cardsOf;
    mapping(uint64 account => mapping(uint256 id => mapping(uint8 month => CardMonth))) private _months;
    mapping(address enterprise => mapping(uint256 id => uint256)) private _held;
    mapping(uint256 id => uint256) private _custody;

    /// @param registry_ The ConsortiumRegistry.
    /// @param token_ The AllowanceToken.
    constructor(address registry_, address token_) RegistryGated(registry_) {
        if (token_.code.length == 0) revert RegistryGatedZeroAddress("token");
        _token = IERC1155(token_);
    }

    /// @inheritdoc IEmissionCards
    function issueCard(uint64 card, address device) external onlyRegistryRole(Roles.REGULATOR_ROLE) {
        if (card == 0 || _cards[card].status != CardStatus.None) revert CardNumberTaken(card);
        IConsortiumRegistry.Device memory bound = _registry.getDevice(device);
        uint64 existing = _activeCard[device];
        if (existing != 0) revert CardDeviceHasCard(device, existing);
        if (!_registry.isActiveEnterprise(bound.enterprise)) revert CardEnterpriseNotActive(bound.enterprise);
        _cards[card] = Card(bound.enterprise, device, card, CardStatus.Active, uint64(block.timestamp));
        _activeCard[device] = card;
        _cardsOf[bound.enterprise].push(card);
        emit CardIssued(card, bound.enterprise, device, bound.mn);
    }

    /// @inheritdoc IEmissionCards
    function replaceCard(uint64 oldCard, uint64 newCard) external onlyRegistryRole(Roles.REGULATOR_ROLE) {
        Card storage old = _requireActive(oldCard);
        if (newCard == 0 || _cards[newCard].status != CardStatus.None) revert CardNumberTaken(newCard);
        old.status = CardStatus.Replaced;
        _cards[newCard] = Card(old.enterprise, old.device, old.account, CardStatus.Active, uint64(block.timestamp));
        _activeCard[old.device] = newCard;
        _cardsOf[old.enterprise].push(newCard);
        emit CardReplaced(oldCard, newCard, old.enterprise, old.account);
    }

    /// @inheritdoc IEmissionCards
    function revokeCard(uint64 card, uint16 reasonCode) external onlyRegistryRole(Roles.REGULATOR_ROLE) {
        Card storage c = _requireActive(card);
        c.status = CardStatus.Revoked;
        delete _activeCard[c.device];
        emit CardRevoked(card, c.enterprise, reasonCode);
    }

    /// @inheritdoc IEmissionCards
    function load(uint64 card, uint256 id, uint8 month, uint256 amount)
        external
        onlyRegistryRole(Roles.ENTERPRISE_ROLE)
    {
        Card storage c = _cards[card];
        if (c.enterprise != msg.sender) revert CardNotHolder(card, c.enterprise, msg.sender);
        if (c.status != CardStatus.Active) revert CardNotActive(card, c.status);
        CardMonth storage m = _month(c.account, card, id, month);
        if (amount == 0) revert CardZeroAmount();
        uint256 available = _token.balanceOf(msg.sender, id);
        if (amount > available) revert CardLoadExceedsHoldings(msg.sender, id, amount, available);
        uint256 committed = m.committed + amount;
        m.committed = uint128(committed);
        _custody[id] += amount;
        _token.safeTransferFrom(msg.sender, address(this), id, amount, "");
        emit CardLoaded(card, msg.sender, id, c.account, month, amount, committed);
    }

    /// @inheritdoc IEmissionCards
    function settleMonth(uint64 card, uint256 id, uint8 month, uint256 metered)
        external
        onlyRegistryRole(Roles.ORACLE_ROLE)
    {
        Card storage c = _cards[card];
        if (c.status == CardStatus.None) revert CardUnknown(card);
        address oracle = _registry.oracleOf(c.device);
        if (oracle != address(0) && oracle != msg.sender) revert CardNotDeviceOracle(card, c.device, msg.sender);
        CardMonth storage m = _month(c.account, card, id, month);
        uint256 committed = m.committed;
        uint256 used = metered < committed ? metered : committed;
        uint256 returned = committed - used;
        m.used = uint128(used);
        m.settled = true;
        _held[c.enterprise][id] += used;
        if (returned != 0) {
            _custody[id] -= returned;
            _token.safeTransferFrom(address(this), c.enterprise, id, returned, "");
        }
        emit CardMonthSettled(card, c.enterprise, id, c.account, month, metered, used, returned);
    }

    /// @inheritdoc IEmissionCards
    function releaseForSurrender(address enterprise, uint256 id) external onlyRegistryRole(Roles.REGULATOR_ROLE) {
        uint256 amount = _held[enterprise][id];
        if (amount == 0) revert CardNothingHeld(enterprise, id);
        delete _held[enterprise][id];
        _custody[id] -= amount;
        _token.safeTransferFrom(address(this), enterprise, id, amount, "");
        emit CardUsedReleased(enterprise, id, amount);
    }

    /// @inheritdoc IEmissionCards
    function getCard(uint64 card) external view returns (Card memory) {
        return _cards[card];
    }

    /// @inheritdoc IEmissionCards
    function cardOfDevice(address device) external view returns (uint64) {
        return _activeCard[device];
    }

    /// @inheritdoc IEmissionCards
    function cardsOf(address enterprise) external view returns (uint64[] memory) {
        return _cardsOf[enterprise];
    }

    /// @inheritdoc IEmissionCards
    function cardMonth(uint64 card, uint256 id, uint8 month) external view returns (CardMonth memory) {
        return _months[_cards[card].account][id][month];
    }

    /// @inheritdoc IEmissionCards
    function heldForSurrender(address enterprise, uint256 id) external view returns (uint256) {
        return _held[enterprise][id];
    }

    /// @inheritdoc IEmissionCards
    function custody(uint256 id) external view returns (uint256) {
        return _custody[id];
    }

    /// @inheritdoc IEmissionCards
    function allowanceToken() external view returns (address) {
        return address(_token);
    }

    function _requireActive(uint64 card) private view returns (Card storage c) {
        c = _cards[card];
        if (c.status != CardStatus.Active) revert CardNotActive(card, c.status);
    }

    /// @dev The unsettled month of an allowance id on a card account; checks id and month.
    function _month(uint64 account, uint64 card, uint256 id, uint8 month) private view returns (CardMonth storage m) {
        if (!TokenIdLib.fits(TokenId.wrap(id)) || TokenIdLib.kind(TokenId.wrap(id)) != Kind.Allowance) {
            revert CardInvalidId(id);
        }
        if (month == 0 || month > 12) revert CardInvalidMonth(month);
        m = _months[account][id][month];
        if (m.settled) revert CardMonthAlreadySettled(card, id, month);
    }
}
