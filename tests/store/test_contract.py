"""Both backends pass the one store contract (supplynet.testing.store_contract)."""

from supplynet.testing.store_contract import StoreContract


class TestStoreContract(StoreContract):
    pass
