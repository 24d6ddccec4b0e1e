"""Pure rules of emission-rights trading and compliance: no web3, SQL, files, plots or clocks."""
