"""apache2 -t: configuration mistakes are refused at configtest time, and the
message names the directive and the offending value."""
import os

import pytest

from httpd import (EVM_ASSET_ADDRESS, EVM_RECIPIENT, NETWORKS, OFFER_BASIC, OFFER_TEST,
                   TENANT_RECIPIENT, configtest)

GOOD_KEY = b"k" * 48 + b"\n"

BASE = NETWORKS + OFFER_BASIC + "\n" + OFFER_TEST + "\n"


def write_conf(build, d, body, key=GOOD_KEY, key_mode=0o600, key_name="challenge.key"):
    key_path = d / key_name
    if key is not None:
        key_path.write_bytes(key)
        os.chmod(key_path, key_mode)
    text = "\n".join([
        "ServerRoot %s" % d,
        "Listen 127.0.0.1:9",
        "ServerName cfg.test",
        "LoadModule mpm_event_module %s/mod_mpm_event.so" % build.moduledir,
        "LoadModule authz_core_module %s/mod_authz_core.so" % build.moduledir,
        "LoadModule mpp_testmethod_module %s" % build.mod_test,
        "LoadModule mpp_module %s" % build.mod_mpp,
        "ErrorLog %s/error.log" % d,
        "DocumentRoot %s" % d,
        "MPPSecretFile %s" % key_path,
        body,
    ]) + "\n"
    conf = d / "httpd.conf"
    conf.write_text(text)
    return conf, key_path


def run(build, tmp_path, body, **kw):
    conf, key_path = write_conf(build, tmp_path, body, **kw)
    rc, out = configtest(build, conf)
    return rc, out, key_path


def refused(rc, out, *needles):
    assert rc != 0, "configtest passed:\n" + out
    assert "Syntax OK" not in out, out
    for n in needles:
        assert n in out, "configtest output does not name %r:\n%s" % (n, out)


def location(*lines):
    return "<Location /paid>\n" + "\n".join("    " + l for l in lines) + "\n</Location>\n"


# ------------------------------------------------------------ good configs

def test_good_config_passes(build, tmp_path):
    body = BASE + location("MPPCharge basic t") + location("MPPCharge basic", "MPPPrice 0.05",
                                                           "MPPRecipient " + TENANT_RECIPIENT)
    rc, out, _ = run(build, tmp_path, body)
    assert rc == 0, out
    assert "Syntax OK" in out


def test_secret_of_exactly_32_bytes_passes(build, tmp_path):
    rc, out, _ = run(build, tmp_path, BASE, key=b"s" * 32 + b"\n")
    assert rc == 0, out


def test_group_readable_secret_passes(build, tmp_path):
    rc, out, _ = run(build, tmp_path, BASE, key_mode=0o640)
    assert rc == 0, out


@pytest.mark.parametrize("price", ["0.001", "1.00", "1", "0.5"])
def test_tenant_price_inside_the_range_passes(build, tmp_path, price):
    rc, out, _ = run(build, tmp_path, BASE + location("MPPCharge basic", "MPPPrice " + price))
    assert rc == 0, out


def test_tenant_price_above_one_unit_inside_the_range_passes(build, tmp_path):
    body = BASE + "MPPOffer wide asset=usdc price=5 recipient=%s tenant-price=1..100\n" \
        % EVM_RECIPIENT + location("MPPCharge wide", "MPPPrice 2.50")
    rc, out, _ = run(build, tmp_path, body)
    assert rc == 0, out


# ------------------------------------------------------------ secrets

def test_short_secret(build, tmp_path):
    rc, out, key = run(build, tmp_path, BASE, key=b"s" * 31 + b"\n")
    refused(rc, out, "MPPSecretFile", str(key), "31")


def test_secret_readable_by_others(build, tmp_path):
    rc, out, key = run(build, tmp_path, BASE, key_mode=0o644)
    refused(rc, out, "MPPSecretFile", str(key), "0644")


def test_missing_secret(build, tmp_path):
    rc, out, key = run(build, tmp_path, BASE, key=None)
    refused(rc, out, "MPPSecretFile", str(key))


def test_relative_secret_path(build, tmp_path):
    conf, _ = write_conf(build, tmp_path, BASE)
    text = conf.read_text().replace("MPPSecretFile %s" % (tmp_path / "challenge.key"),
                                    "MPPSecretFile challenge.key")
    conf.write_text(text)
    rc, out = configtest(build, conf)
    refused(rc, out, "MPPSecretFile", "challenge.key")


# ------------------------------------------------------------ networks, assets, offers

def test_bad_evm_address_in_asset(build, tmp_path):
    rc, out, _ = run(build, tmp_path, BASE.replace(EVM_ASSET_ADDRESS, "0x12345"))
    refused(rc, out, "MPPAsset", "usdc", "0x12345")


def test_bad_evm_address_in_offer_recipient(build, tmp_path):
    bad = "0xZZ44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    rc, out, _ = run(build, tmp_path, BASE.replace(EVM_RECIPIENT, bad))
    refused(rc, out, "MPPOffer", "basic", bad)


def test_unknown_asset_in_offer(build, tmp_path):
    rc, out, _ = run(build, tmp_path, BASE.replace("asset=usdc", "asset=nosuchasset"))
    refused(rc, out, "MPPOffer", "nosuchasset")


def test_unknown_network_in_asset(build, tmp_path):
    rc, out, _ = run(build, tmp_path, BASE.replace("network=anvil", "network=nosuchnet"))
    refused(rc, out, "MPPAsset", "nosuchnet")


def test_unknown_network_type(build, tmp_path):
    rc, out, _ = run(build, tmp_path, BASE + "MPPNetwork odd lightning\n")
    refused(rc, out, "MPPNetwork", "lightning")


@pytest.mark.parametrize("price", ["1e3", "-1", "0.1.2", "1,5", "0.0000001"])
def test_bad_offer_price(build, tmp_path, price):
    rc, out, _ = run(build, tmp_path, BASE.replace("price=0.01", "price=" + price))
    refused(rc, out, "MPPOffer", "basic", price)


# ------------------------------------------------------------ places

def test_unknown_offer_in_charge(build, tmp_path):
    rc, out, _ = run(build, tmp_path, BASE + location("MPPCharge basic nosuchoffer"))
    refused(rc, out, "MPPCharge", "nosuchoffer")


@pytest.mark.parametrize("price", ["1.10", "5.00", "0.0005"])
def test_tenant_price_outside_the_range(build, tmp_path, price):
    rc, out, _ = run(build, tmp_path, BASE + location("MPPCharge basic", "MPPPrice " + price))
    refused(rc, out, "MPPPrice", price)
    assert "0.001..1.00" in out, "the message does not say the price is outside the " \
                                 "offer's tenant range:\n" + out


def test_tenant_price_without_tenant_range(build, tmp_path):
    rc, out, _ = run(build, tmp_path, BASE + location("MPPCharge t", "MPPPrice 0.5"))
    refused(rc, out, "MPPPrice", "0.5", "'t'")


def test_tenant_recipient_not_allowed(build, tmp_path):
    body = BASE.replace(" tenant-recipient=on", "") + location(
        "MPPCharge basic", "MPPRecipient " + TENANT_RECIPIENT)
    rc, out, _ = run(build, tmp_path, body)
    refused(rc, out, "MPPRecipient", "basic")


def test_tenant_recipient_bad_address(build, tmp_path):
    rc, out, _ = run(build, tmp_path, BASE + location("MPPCharge basic", "MPPRecipient 0xabc"))
    refused(rc, out, "MPPRecipient", "0xabc")


@pytest.mark.parametrize("price", ["1e3", "-1", "abc", "1."])
def test_bad_tenant_price(build, tmp_path, price):
    rc, out, _ = run(build, tmp_path, BASE + location("MPPCharge basic", "MPPPrice " + price))
    refused(rc, out, "MPPPrice", price)


def test_store_inside_virtualhost(build, tmp_path):
    body = BASE + "<VirtualHost 127.0.0.1:9>\n    ServerName v.test\n    MPPStore shm size=8M\n" \
                  "</VirtualHost>\n"
    rc, out, _ = run(build, tmp_path, body)
    refused(rc, out, "MPPStore", "VirtualHost")


def test_store_at_top_level_passes(build, tmp_path):
    rc, out, _ = run(build, tmp_path, BASE + "MPPStore shm size=8M\n")
    assert rc == 0, out


@pytest.mark.parametrize("directive", [
    "MPPSecretFile /etc/hostname",
    "MPPNetwork x evm chain-id=1 rpc=http://127.0.0.1:1",
    "MPPOffer x asset=usdc price=1 recipient=" + EVM_RECIPIENT,
    "MPPRealm inner",
])
def test_server_directives_refused_in_location(build, tmp_path, directive):
    rc, out, _ = run(build, tmp_path, BASE + location(directive))
    refused(rc, out, directive.split()[0])


@pytest.mark.parametrize("directive,line", [
    ("MPPNetwork", "MPPNetwork local test"),
    ("MPPAsset", "MPPAsset tok network=local address=TOK decimals=2"),
    ("MPPOffer", OFFER_TEST),
])
def test_a_name_defined_twice_in_one_server_is_refused(build, tmp_path, directive, line):
    rc, out, _ = run(build, tmp_path, BASE + line + "\n")
    refused(rc, out, directive, "defined twice")


def test_a_vhost_may_redefine_a_name_of_the_main_server(build, tmp_path):
    body = BASE + ("<VirtualHost 127.0.0.1:9>\n    ServerName other.test\n    %s\n</VirtualHost>\n"
                   % OFFER_TEST.replace("price=1", "price=2"))
    rc, out, _ = run(build, tmp_path, body)
    assert rc == 0 and "Syntax OK" in out, out


def _jwt_keys(d, n):
    lines = []
    for i in range(n):
        p = d / ("jwt%d.key" % i)
        p.write_bytes(b"s" * 48 + b"\n")
        os.chmod(p, 0o600)
        lines.append("MPPJWTKey k%d alg=HS256 file=%s" % (i, p))
    return "\n".join(lines) + "\n"


def test_entitlement_naming_an_unknown_key_is_refused(build, tmp_path):
    body = BASE + _jwt_keys(tmp_path, 1) + location("MPPCharge t", "MPPEntitlement nosuch")
    rc, out, _ = run(build, tmp_path, body)
    refused(rc, out, "MPPEntitlement nosuch", "unknown key")


def test_grant_without_key_among_several_keys_is_refused(build, tmp_path):
    body = BASE + _jwt_keys(tmp_path, 2) + location("MPPCharge t", "MPPGrant session=60")
    rc, out, _ = run(build, tmp_path, body)
    refused(rc, out, "MPPGrant", "key=")
    body = BASE + _jwt_keys(tmp_path, 2) + location("MPPCharge t", "MPPGrant session=60 key=k1")
    rc, out, _ = run(build, tmp_path, body)
    assert rc == 0 and "Syntax OK" in out, out
