"""Virtual card-swipe total-amount controllers: realistic HJ 212-2017 minute data over a PTY or TCP.

One module per concept: :mod:`~oracle.simulator.profiles` (site kinds, factor models, the daily
load, device identities), :mod:`~oracle.simulator.controller` (the virtual controller and
:func:`~oracle.simulator.controller.fleet`), :mod:`~oracle.simulator.links` (PTY and TCP links),
:mod:`~oracle.simulator.forward` (store-and-forward) and :mod:`~oracle.simulator.simulation`
(many controllers, one thread each). Its errors are in :mod:`oracle.errors`.

A :class:`VirtualController` plays the data-acquisition unit (DAU) of one monitoring point:

* **Minute data** (CN=2051), one frame per simulated minute, with 8 factors per site kind
  (:data:`PROFILES`): ``Cou``, ``Min``, ``Avg``, ``Max`` and ``Flag`` for each, as fixed-decimal
  text. ``Cou`` is the minute's total: the flow volume in m³ for the flow factor, and for every
  factor whose total is in kg, the rounded product of the reported ``Avg`` and that volume
  (mg/L x m³ / 1000 for wastewater, mg/m³ x m³ / 10⁶ for flue gas), so a quota controller
  integrating ``Cou`` sees the totals the concentrations imply.
* A **daily cycle**: production load follows the time of day (low at night, a morning ramp,
  a working-day plateau with a lunch dip, an evening decline, lighter weekends) plus a slow
  random drift; flows and concentrations follow the load, with noise.
* Rare **faults**, at ``fault_rate`` events per minute: stretches of instrument fault
  (Flag ``D``, reads zero), maintenance (``M``, holds its last value) or calibration (``C``,
  reads the span standard) on one analyser; a one-minute outlier spike; a few missed minutes
  (a gap in DataTime).
* A **card swipe** (:data:`~oracle.hj212.CN_CARD_SWIPE`, ``DataTime`` + ``CardId``) before the
  first minute frame of each calendar month, the very first frame included, when the
  controller has a card.

Everything is deterministic for a seed (one :class:`random.Random`), and time is simulated:
DataTime and QN come from the controller's clock, never from the wall clock.

:class:`StoreAndForward` is the DAU's upload loop: every frame asks for a data answer
(``Flag=5``), is resent each ``ack_timeout`` until the CN=9014 answer naming its QN arrives,
and the next frame waits until then. Links are a pseudo-terminal (:class:`PtyLink`, for a
gateway's :class:`~oracle.transport.SerialFrameReader`) or a TCP connection to the platform
port (:class:`TcpLink`, for :class:`~oracle.transport.TcpFrameServer`; reconnects with a
backoff). :class:`Simulation` runs many controllers, one thread each (:func:`run_on_pty`,
:func:`run_over_tcp`).

**History**: the controller keeps its minute frames (``history_limit``, a week by default)
and answers the platform's HJ 212-2017 history requests (CN=2051 with ``BeginTime`` and
``EndTime``): a request answer (CN=9011), each stored frame of the window under the request's
QN (each waiting for its 9014), then the execution result (CN=9012; ``ExeRtn=100`` when it
holds none). It queues at most ``max_history_requests`` and answers the rest ``QnRtn=2``
(rejected); a wrong password gets ``QnRtn=3``. ``LinkSettings.drop_rate`` loses minute frames in
transit (not resent), for the gateway to back-fill.

The ``PW=`` password travels in every frame; it is never logged here.
"""
