// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title BlindAuction
/// @notice Benchmark baseline only: the blind auction described in the Solidity documentation
/// ("Solidity by Example" → "Blind Auction"), rewritten here to measure its commit (`bid`) and
/// `reveal` gas next to SealedBidAuction's in the same run. Not part of the suite: it has the
/// weaknesses the issue names (first-price, one winner, anyone settles at any price).
contract BlindAuction {
    struct Bid {
        bytes32 blindedBid;
        uint256 deposit;
    }

    address payable public beneficiary;
    uint256 public biddingEnd;
    uint256 public revealEnd;
    bool public ended;
    mapping(address bidder => Bid[]) public bids;
    address public highestBidder;
    uint256 public highestBid;
    mapping(address bidder => uint256) private _pendingReturns;

    error TooEarly(uint256 time);
    error TooLate(uint256 time);
    error AuctionEndAlreadyCalled();

    modifier onlyBefore(uint256 time) {
        if (block.timestamp >= time) revert TooLate(time);
        _;
    }

    modifier onlyAfter(uint256 time) {
        if (block.timestamp <= time) revert TooEarly(time);
        _;
    }

    constructor(uint256 biddingTime, uint256 revealTime, address payable beneficiary_) {
        beneficiary = beneficiary_;
        biddingEnd = block.timestamp + biddingTime;
        revealEnd = biddingEnd + revealTime;
    }

    /// @notice Place a blinded bid `keccak256(abi.encodePacked(value, fake, secret))` with a deposit.
    function bid(bytes32 blindedBid) external payable onlyBefore(biddingEnd) {
        bids[msg.sender].push(Bid({blindedBid: blindedBid, deposit: msg.value}));
    }

    /// @notice Reveal the blinded bids; refunds every deposit except the current highest bid's.
    function reveal(uint256[] calldata values, bool[] calldata fakes, bytes32[] calldata secrets)
        external
        onlyAfter(biddingEnd)
        onlyBefore(revealEnd)
    {
        uint256 length = bids[msg.sender].length;
        require(values.length == length && fakes.length == length && secrets.length == length);
        uint256 refund;
        for (uint256 i = 0; i < length; i++) {
            Bid storage bidToCheck = bids[msg.sender][i];
            (uint256 value, bool fake, bytes32 secret) = (values[i], fakes[i], secrets[i]);
            if (bidToCheck.blindedBid != keccak256(abi.encodePacked(value, fake, secret))) continue;
            refund += bidToCheck.deposit;
            if (!fake && bidToCheck.deposit >= value && _placeBid(msg.sender, value)) refund -= value;
            bidToCheck.blindedBid = bytes32(0);
        }
        payable(msg.sender).transfer(refund);
    }

    /// @notice Withdraw an overbid deposit.
    function withdraw() external {
        uint256 amount = _pendingReturns[msg.sender];
        if (amount > 0) {
            _pendingReturns[msg.sender] = 0;
            payable(msg.sender).transfer(amount);
        }
    }

    /// @notice End the auction and pay the beneficiary.
    function auctionEnd() external onlyAfter(revealEnd) {
        if (ended) revert AuctionEndAlreadyCalled();
        ended = true;
        beneficiary.transfer(highestBid);
    }

    function _placeBid(address bidder, uint256 value) private returns (bool success) {
        if (value <= highestBid) return false;
        if (highestBidder != address(0)) _pendingReturns[highestBidder] += highestBid;
        highestBid = value;
        highestBidder = bidder;
        return true;
    }
}
