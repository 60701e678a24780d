"""Vocabularies: the values facts, decisions and policies are written in.

``tags`` (reputation tags, ``feed:<name>``, ``geofeed:<place>``), ``codes`` (ISO 3166 country
and region codes, continents), ``actions`` (``Action``, ``Mode``, ``Verdict``) and ``feeds``
(the feed catalog and ``FeedSpec``: what a feed is, as plain validated data). They sit below
the policy, signal and source packages, which all speak them and never import one another.
"""
