"""Settings of chain-side processes (env prefix ``ETS_``); the only reader of the environment."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from chain.accounts import is_demo_key, load_keystore
from chain.compile import ROOT
from chain.errors import ConfigError


class ChainSettings(BaseSettings):
    """Where the chain is, where the deployment manifest lives, and the service key.

    Attributes:
        rpc_url: JSON-RPC endpoint of a node.
        state_dir: local state (detached node, manifest, queues), git-ignored.
        manifest: deployment manifest path (default: ``state_dir/deployment.json``).
        demo: demo mode — allows Anvil's public development keys.
        private_key: service account key (oracle gateway, scheduler); prefer a keystore.
        keystore: encrypted V3 keystore of the service account.
        keystore_password: its password.
        confirmations: blocks to wait after a receipt before treating it as final.
    """

    model_config = SettingsConfigDict(env_prefix="ETS_", extra="ignore")

    rpc_url: str = "http://127.0.0.1:8545"
    state_dir: Path = ROOT / ".ets"
    manifest: Path | None = None
    demo: bool = False
    private_key: SecretStr | None = None
    keystore: Path | None = None
    keystore_password: SecretStr | None = None
    confirmations: int = 0

    @classmethod
    def load(cls) -> ChainSettings:
        """Settings from the environment, checked.

        Raises:
            ConfigError: invalid values (messages never include secret values).
        """
        try:
            settings = cls()
        except ValidationError as exc:
            problems = "; ".join(
                f"ETS_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(problems) from None
        return settings.check()

    def check(self) -> ChainSettings:
        """Refuse public development keys outside demo mode.

        Raises:
            ConfigError: a demo key is configured and demo mode is off.
        """
        if (
            self.private_key is not None
            and not self.demo
            and is_demo_key(self.private_key.get_secret_value())
        ):
            raise ConfigError("ETS_PRIVATE_KEY is a public Anvil development key; set ETS_DEMO=1 for demos")
        return self

    @property
    def manifest_path(self) -> Path:
        return self.manifest or self.state_dir / "deployment.json"

    def service_account(self) -> LocalAccount:
        """The service account from the keystore or the private key.

        Raises:
            ConfigError: neither is configured.
        """
        from eth_account import Account

        if self.keystore is not None:
            password = self.keystore_password.get_secret_value() if self.keystore_password else ""
            account = load_keystore(self.keystore, password)
            if is_demo_key(account.key.hex()) and not self.demo:
                raise ConfigError("keystore holds a public development key; set ETS_DEMO=1")
            return account
        if self.private_key is not None:
            loaded: LocalAccount = Account.from_key(self.private_key.get_secret_value())
            return loaded
        raise ConfigError("no service key: set ETS_KEYSTORE (+ ETS_KEYSTORE_PASSWORD)")
