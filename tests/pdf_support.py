"""Signed test PDFs, made here: a test CA (cryptography), pyHanko as the signer, its in-process TSA.

Also the published PDF signature attack classes (Mladenov et al., "1 Trillion Dollar Refund",
CCS 2019; Mainka et al., "Shadow Attacks", NDSS 2021), built as fixtures from a genuinely signed
file: incremental saving, signature wrapping, universal signature forgery, and the shadow
hide / replace / hide-and-replace variants (content prepared before signing, switched after).
"""

from __future__ import annotations

import asyncio
import io
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fpdf import FPDF
from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from tests.support.vectors import VECTORS

EDC_SAMPLE = VECTORS / "microcredentials" / "elm" / "Sample-MC-Annex1-signed.jsonld"
_NOW = datetime.now(UTC)


@dataclass(frozen=True)
class Party:
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def asn1_cert(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER))

    @property
    def asn1_key(self) -> asn1_keys.PrivateKeyInfo:
        return asn1_keys.PrivateKeyInfo.load(self.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))


def _party(name: str, *, issuer: Party | None = None, ca: bool = False,
           eku: list[x509.ObjectIdentifier] | None = None, use_rsa: bool = False,
           country: str = "NL", valid: tuple[timedelta, timedelta] = (
               timedelta(days=-30), timedelta(days=3650))) -> Party:
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048) if use_rsa
        else ec.generate_private_key(ec.SECP256R1()))
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.cert.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(_NOW + valid[0]).not_valid_after(_NOW + valid[1])
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=True, content_commitment=not ca, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                   encipher_only=False, decipher_only=False), critical=True))
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
    if issuer is not None:  # where its CA publishes revocation (never fetched: the DSS has it)
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier("http://ca.satchel.test/crl")],
            relative_name=None, reasons=None, crl_issuer=None)]), critical=False)
    return Party(key, builder.sign(issuer.key if issuer else key, hashes.SHA256()))


@dataclass(frozen=True)
class TestPki:
    ca: Party
    signer: Party
    tsa: Party
    stranger: Party  # self-signed: anchored nowhere
    expired: Party  # by the CA, valid from 400 until 30 days ago

    @property
    def ca_pem(self) -> bytes:
        return self.ca.cert.public_bytes(serialization.Encoding.PEM)


@cache
def pki() -> TestPki:
    ca = _party("Satchel Test CA", ca=True)
    return TestPki(
        ca=ca, signer=_party("Test University", issuer=ca),
        tsa=_party("Test TSA", issuer=ca, eku=[ExtendedKeyUsageOID.TIME_STAMPING], use_rsa=True),
        stranger=_party("Self Signed University"),
        expired=_party("Test University", issuer=ca,
                       valid=(timedelta(days=-400), timedelta(days=-30))))


def base_pdf(title: str = "Data Literacy Fundamentals", ects: str = "5 ECTS",
             padding_bytes: int = 0, with_metadata: bool = True) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=16)
    pdf.cell(text=f"Micro-credential: {title}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(text=f"Workload: {ects}", new_x="LMARGIN", new_y="NEXT")
    if with_metadata:
        pdf.set_title(title)
        pdf.set_author("Test University")
        pdf.set_subject("Micro-credential")
    if padding_bytes:
        # incompressible filler, so the file really is that large
        import os
        pdf.add_page()
        pdf.set_font("courier", size=6)
        hexed = os.urandom(padding_bytes // 2).hex()
        for i in range(0, len(hexed), 120):
            pdf.cell(text=hexed[i:i + 120], new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _attach(w: IncrementalPdfFileWriter, name: str, data: bytes, mime: str) -> None:
    spec = embed.FileSpec(
        file_spec_string=name, file_name=name,
        embedded_data=embed.EmbeddedFileObject.from_file_data(w, data=data, mime_type=mime),
        af_relationship=generic.pdf_name("/Data"), description="machine-readable credential")
    embed.embed_file(w, spec)


async def _sign(w: IncrementalPdfFileWriter, *, signer: Party, certify: bool,
                timestamp: bool, field: str, docmdp: MDPPerm | None,
                at: datetime | None = None) -> bytes:
    p = pki()
    cms = signers.SimpleSigner(signing_cert=signer.asn1_cert, signing_key=signer.asn1_key,
                               cert_registry=SimpleCertificateStore.from_certs(
                                   [p.ca.asn1_cert] if signer is not p.stranger else []))
    tsa = DummyTimeStamper(tsa_cert=p.tsa.asn1_cert, tsa_key=p.tsa.asn1_key,
                           certs_to_embed=SimpleCertificateStore.from_certs([p.ca.asn1_cert]),
                           fixed_dt=at)
    meta = signers.PdfSignatureMetadata(
        field_name=field, certify=certify,
        **({"docmdp_permissions": docmdp} if docmdp is not None else {}))
    out = io.BytesIO()
    await signers.async_sign_pdf(w, meta, signer=cms, timestamper=tsa if timestamp else None,
                                 output=out)
    return out.getvalue()


def sign(pdf: bytes, *, certify: bool = False, timestamp: bool = False,
         attach: list[tuple[str, bytes, str]] | None = None, signer: Party | None = None,
         field: str = "Signature1", docmdp: MDPPerm | None = None,
         at: datetime | None = None) -> bytes:
    """``pdf`` signed (an incremental update), optionally with files attached in that update;
    ``at``: the time the timestamp token says (default: now)."""
    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    for name, data, mime in attach or ():
        _attach(w, name, data, mime)

    def run() -> bytes:
        return asyncio.run(_sign(w, signer=signer or pki().signer, certify=certify,
                                 timestamp=timestamp, field=field, docmdp=docmdp, at=at))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with ThreadPoolExecutor(1) as pool:  # called from a test's event loop: sign beside it
        return pool.submit(run).result()


# -- attacks ------------------------------------------------------------------------------------

def _page(w: IncrementalPdfFileWriter) -> tuple[generic.IndirectObject, generic.DictionaryObject]:
    ref = w.root["/Pages"]["/Kids"].raw_get(0)
    return ref, ref.get_object()


def _stream(w: IncrementalPdfFileWriter, content: bytes) -> generic.IndirectObject:
    return w.add_object(generic.StreamObject(stream_data=content))


_EVIL = b"BT /F1 16 Tf 20 700 Td (Micro-credential: Brain Surgery, 60 ECTS) Tj ET"


def incremental_saving_attack(signed: bytes) -> bytes:
    """New page content in an appended revision (the signature still covers its own revision)."""
    w = IncrementalPdfFileWriter(io.BytesIO(signed))
    ref, page = _page(w)
    page["/Contents"] = _stream(w, _EVIL)
    w.mark_update(ref)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def _rewrite_byte_range(signed: bytes, values: tuple[int, int, int, int]) -> bytes:
    m = _BYTE_RANGE.search(signed)
    assert m is not None
    new = b"/ByteRange [%d %d %d %d]" % values
    old = m.group(0)
    assert len(new) <= len(old)
    return signed[:m.start()] + new.ljust(len(old)) + signed[m.end():]


def signature_wrapping(signed: bytes) -> bytes:
    """Evil content appended, and the ``/ByteRange`` moved so that it no longer covers it."""
    m = _BYTE_RANGE.search(signed)
    assert m is not None
    a, b, c, d = (int(x) for x in m.groups())
    evil = b"\n% wrapped\n" + _EVIL + b"\n"
    return _rewrite_byte_range(signed, (a, b, c + len(evil), d)) + evil


def forgery_empty_contents(signed: bytes) -> bytes:
    m = re.search(rb"/Contents\s*<([0-9a-fA-F]+)>", signed)
    assert m is not None
    return signed[:m.start(1)] + b"0" * len(m.group(1)) + signed[m.end(1):]


def forgery_missing_contents(signed: bytes) -> bytes:
    m = re.search(rb"/Contents\s*<", signed)
    assert m is not None
    return signed[:m.start()] + b"/Contentz" + signed[m.start() + len(b"/Contents"):]


def forgery_broken_byte_range(signed: bytes) -> bytes:
    return _rewrite_byte_range(signed, (0, 0, 0, 0))


def _prepared(extra: bytes) -> tuple[bytes, int]:
    """A document with an extra, unused content stream, prepared before signing (its object
    number returned): the shadow attacks' hidden content."""
    w = IncrementalPdfFileWriter(io.BytesIO(base_pdf()))
    ref = _stream(w, extra)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue(), ref.idnum


def shadow_hide() -> bytes:
    """Before signing, an overlay covers part of the page; after signing it is taken away."""
    w = IncrementalPdfFileWriter(io.BytesIO(base_pdf()))
    ref, page = _page(w)
    overlay = _stream(w, b"1 1 1 rg 0 0 612 792 re f")  # a white sheet over everything
    page["/Contents"] = generic.ArrayObject([page.raw_get("/Contents"), overlay])
    w.mark_update(ref)
    out = io.BytesIO()
    w.write(out)
    signed = sign(out.getvalue())
    w = IncrementalPdfFileWriter(io.BytesIO(signed))
    ref, page = _page(w)
    page["/Contents"] = page["/Contents"].raw_get(0)  # reveal what was hidden
    w.mark_update(ref)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def shadow_replace() -> bytes:
    """After signing, an object that was signed is redefined (here: the page's font)."""
    signed = sign(base_pdf())
    w = IncrementalPdfFileWriter(io.BytesIO(signed))
    _ref, page = _page(w)
    fonts = page["/Resources"]["/Font"]
    font_ref = next(iter(fonts.raw_get(k) for k in fonts))
    font = font_ref.get_object()
    font["/BaseFont"] = generic.pdf_name("/Courier")
    w.mark_update(font_ref)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def shadow_hide_and_replace() -> bytes:
    """Content prepared (unused) before signing; after signing the page points to it."""
    prepared, idnum = _prepared(_EVIL)
    signed = sign(prepared)
    w = IncrementalPdfFileWriter(io.BytesIO(signed))
    ref, page = _page(w)
    page["/Contents"] = generic.IndirectObject(idnum, 0, w)
    w.mark_update(ref)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def edc_sample() -> bytes:
    return EDC_SAMPLE.read_bytes()


# -- long-term validation material ---------------------------------------------------------------

def crl(*, revoked: bool) -> bytes:
    """A CRL from the test CA, listing the signer's certificate when ``revoked``."""
    p = pki()
    builder = (x509.CertificateRevocationListBuilder().issuer_name(p.ca.cert.subject)
               .last_update(_NOW - timedelta(days=1)).next_update(_NOW + timedelta(days=30)))
    if revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(p.signer.cert.serial_number)
            .revocation_date(_NOW - timedelta(hours=1)).build())
    return builder.sign(p.ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def with_dss(signed: bytes, *, revoked: bool) -> bytes:
    """``signed`` with a DSS (an incremental update) holding the CA and its CRL: PAdES B-LT."""
    from asn1crypto import crl as asn1_crl
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    out = io.BytesIO(signed)
    DocumentSecurityStore.add_dss(out, None, certs=[pki().ca.asn1_cert],
                                  crls=[asn1_crl.CertificateList.load(crl(revoked=revoked))])
    return out.getvalue()


def with_document_timestamp(signed: bytes) -> bytes:
    """``signed`` with a document timestamp appended (PAdES B-LTA maintenance)."""
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper

    p = pki()
    tsa = DummyTimeStamper(tsa_cert=p.tsa.asn1_cert, tsa_key=p.tsa.asn1_key,
                           certs_to_embed=SimpleCertificateStore.from_certs([p.ca.asn1_cert]))

    def run() -> bytes:
        out = io.BytesIO()
        asyncio.run(PdfTimeStamper(tsa).async_timestamp_pdf(
            IncrementalPdfFileWriter(io.BytesIO(signed)), "sha256", output=out))
        return out.getvalue()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def unknown_subfilter(signed: bytes) -> bytes:
    """The signature's ``/SubFilter`` renamed to one no validator knows (same length)."""
    m = re.search(rb"/SubFilter\s*/([A-Za-z0-9.]+)", signed)
    assert m is not None
    name = m.group(1)
    return signed[:m.start(1)] + b"x" * len(name) + signed[m.end(1):]
